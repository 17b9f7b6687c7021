import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from './s3-xml.ts';

/**
 * Signature Version 4 as S3 checks it, for the two ways a client signs
 * without an Authorization header: a browser POST form (its policy is the
 * string to sign, s3-post-policy.ts) and a presigned URL (query parameters).
 * Pure apart from the clock it is given.
 */

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** S3 refuses a presigned URL valid for longer than a week. */
export const MAX_PRESIGNED_SECONDS = 604_800;

const hmac = (key: Buffer | string, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** The SigV4 signing key: HMAC chain over the scope date, region and service. */
export function signingKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export const hexHmac = (key: Buffer, data: string) => hmac(key, data).toString('hex');

export function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
}

/**
 * `<access key id>/<yyyymmdd>/<region>/s3/aws4_request`, checked against the
 * credentials and region the store accepts. `code` is the error code S3 uses
 * for a malformed value in this kind of request.
 */
export function checkCredential(
  credential: string,
  accepted: { credentials: SigningCredentials; region: string },
  code: string,
): CredentialScope {
  const parts = credential.split('/');
  if (parts.length !== 5 || !/^\d{8}$/.test(parts[1]!))
    throw new S3Error(
      400,
      code,
      'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  const [accessKeyId, date, region, service, terminal] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (accessKeyId !== accepted.credentials.accessKeyId)
    throw new S3Error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: accessKeyId },
    );
  if (region !== accepted.region)
    throw new S3Error(
      400,
      code,
      `Error parsing the X-Amz-Credential parameter; the region '${region}' is wrong; expecting '${accepted.region}'`,
      { Region: accepted.region },
    );
  if (service !== 's3')
    throw new S3Error(
      400,
      code,
      `Error parsing the X-Amz-Credential parameter; incorrect service "${service}". This endpoint belongs to "s3".`,
    );
  if (terminal !== 'aws4_request')
    throw new S3Error(
      400,
      code,
      `Error parsing the X-Amz-Credential parameter; incorrect terminal "${terminal}". This endpoint uses "aws4_request".`,
    );
  return { accessKeyId, date, region };
}

/**
 * A browser form's credential and signature, checked as S3 checks them: the
 * signature is the HMAC of the base64 policy as sent. Throws the S3Error S3
 * answers.
 */
export function checkPostSignature(
  form: { credential: string; policy: string; signature: string },
  accepted: { credentials: SigningCredentials; region: string },
): void {
  const scope = checkCredential(form.credential, accepted, 'InvalidArgument');
  const expected = hexHmac(
    signingKey(accepted.credentials.secretAccessKey, scope.date, scope.region),
    form.policy,
  );
  if (!sameSignature(expected, form.signature))
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        AWSAccessKeyId: scope.accessKeyId,
        StringToSign: form.policy,
        SignatureProvided: form.signature,
      },
    );
}

/** RFC 3986 encoding, as SigV4 canonical requests use it. */
export const uriEncode = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** Query parameters in order, decoded (`+` stays `+`: the SDKs write a space as %20). */
export function parseQuery(search: string): [string, string][] {
  const query = search.startsWith('?') ? search.slice(1) : search;
  if (!query) return [];
  return query.split('&').map((pair) => {
    const at = pair.indexOf('=');
    const [name, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
    try {
      return [decodeURIComponent(name), decodeURIComponent(value)];
    } catch {
      return [name, value];
    }
  });
}

export const isPresigned = (query: readonly [string, string][]) =>
  query.some(([name]) => /^x-amz-(signature|credential|algorithm)$/i.test(name));

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface PresignedRequest {
  method: string;
  /** The path exactly as the request line has it (S3 does not normalise or re-encode it). */
  rawPath: string;
  query: readonly [string, string][];
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * The SigV4 signature of a presigned URL: over its method, path, query (but
 * X-Amz-Signature), signed headers and X-Amz-Date, payload UNSIGNED-PAYLOAD,
 * in `scope`. Answers what was signed too, for SignatureDoesNotMatch.
 */
export function presignedSignature(
  request: PresignedRequest,
  scope: { date: string; region: string; service?: string },
  secretAccessKey: string,
): { canonicalRequest: string; stringToSign: string; signature: string } {
  const param = (name: string) => request.query.find(([n]) => n === name)?.[1] ?? '';
  const service = scope.service ?? 's3';
  const signedHeaders = param('X-Amz-SignedHeaders');
  const headerLines = signedHeaders.split(';').map((name) => {
    const raw = request.headers[name];
    const value = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().replace(/\s+/g, ' ');
    return `${name}:${value}`;
  });
  const canonicalQuery = request.query
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [
    request.method,
    request.rawPath,
    canonicalQuery,
    `${headerLines.join('\n')}\n`,
    signedHeaders,
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = [
    ALGORITHM,
    param('X-Amz-Date'),
    `${scope.date}/${scope.region}/${service}/aws4_request`,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const key = signingKey(secretAccessKey, scope.date, scope.region, service);
  return { canonicalRequest, stringToSign, signature: hexHmac(key, stringToSign) };
}

/**
 * Checks a presigned URL (query-string SigV4) as S3 does: every auth
 * parameter present, the algorithm, the credential scope, X-Amz-Expires at
 * most a week, the signature (recomputed over the same method, path, query,
 * signed headers and date, payload UNSIGNED-PAYLOAD), then the expiry.
 * Throws the S3Error S3 would answer.
 */
export function checkPresigned(
  request: PresignedRequest,
  accepted: { credentials: SigningCredentials; region: string },
  now: Date,
): void {
  const param = (name: string) => request.query.find(([n]) => n === name)?.[1];
  const code = 'AuthorizationQueryParametersError';
  const names = ['Algorithm', 'Credential', 'Signature', 'Date', 'SignedHeaders', 'Expires'];
  if (names.some((n) => param(`X-Amz-${n}`) === undefined))
    throw new S3Error(
      400,
      code,
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  if (param('X-Amz-Algorithm') !== ALGORITHM)
    throw new S3Error(400, code, `X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const amzDate = param('X-Amz-Date')!;
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt)
    throw new S3Error(
      400,
      code,
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`,
    );
  const expiresText = param('X-Amz-Expires')!;
  if (!/^-?\d+$/.test(expiresText))
    throw new S3Error(400, code, 'X-Amz-Expires should be a number');
  const expires = Number(expiresText);
  if (expires < 0) throw new S3Error(400, code, 'X-Amz-Expires must be non-negative');
  if (expires > MAX_PRESIGNED_SECONDS)
    throw new S3Error(
      400,
      code,
      `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_SECONDS}`,
    );
  const scope = checkCredential(param('X-Amz-Credential')!, accepted, code);
  if (scope.date !== amzDate.slice(0, 8))
    throw new S3Error(
      400,
      code,
      `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );

  const { canonicalRequest, stringToSign, signature } = presignedSignature(
    request,
    scope,
    accepted.credentials.secretAccessKey,
  );
  const provided = param('X-Amz-Signature')!;
  if (!sameSignature(signature, provided))
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        AWSAccessKeyId: scope.accessKeyId,
        StringToSign: stringToSign,
        SignatureProvided: provided,
        CanonicalRequest: canonicalRequest,
      },
    );

  const expiresAt = new Date(signedAt.getTime() + expires * 1000);
  if (now.getTime() > expiresAt.getTime())
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: isoSeconds(expiresAt),
      ServerTime: isoSeconds(now),
    });
}
