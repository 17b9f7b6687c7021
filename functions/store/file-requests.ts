import { fromEnv } from '@aws-sdk/credential-provider-env';
import { Sha256 } from '@smithy/core/checksum';
import { buildQueryString } from '@smithy/core/protocols';
import { HttpRequest } from '@smithy/core/transport';
import { SignatureV4 } from '@smithy/signature-v4';
import { attachmentObjectKey } from '#platform/attachment-layout.ts';
import { ENV, requireEnv } from '#platform/env.ts';
import { StoreError } from '#platform/errors.ts';

export interface FileAddress {
  room_id: string;
  id: string;
}

/**
 * The two file requests on hot paths: a send's HEAD of each file it names,
 * and a download's signed GET URL. Deliberately not `@aws-sdk/client-s3`
 * (with `s3-request-presigner`): that client carries every S3 operation's
 * schemas (~65 KB) and S3's endpoint rules (~18 KB), which would add ~150 KB
 * and ~40 ms of cold start to every send and download for one HEAD or one
 * signature. These are the same requests, signed by the SDK's own SigV4 signer
 * with the function's credentials; uploads, tags and deletes use the real
 * client (store/attachment-files.ts).
 */
let signer: SignatureV4 | undefined;
const region = () => process.env.AWS_REGION ?? 'us-east-1';
function sigv4(): SignatureV4 {
  // S3 signs the path as sent (no second URI encoding), with the payload hash header.
  signer ??= new SignatureV4({
    service: 's3',
    region: region(),
    credentials: fromEnv(),
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: true,
  });
  return signer;
}

function objectRequest(method: 'HEAD' | 'GET', url: URL, query: Record<string, string> = {}) {
  return new HttpRequest({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: { host: url.host },
  });
}

/**
 * The object's URL: path-style on a custom endpoint (the local stack's
 * AWS_ENDPOINT_URL_S3), else the bucket's virtual-hosted regional endpoint, as
 * the S3 client resolves it for a DNS-compatible bucket name.
 */
function objectUrl(file: FileAddress): URL {
  const bucket = requireEnv(ENV.attachmentsBucket);
  const key = attachmentObjectKey(file.room_id, file.id).split('/').map(encodeURIComponent);
  const custom = process.env.AWS_ENDPOINT_URL_S3;
  if (custom) return new URL(`${custom.replace(/\/$/, '')}/${bucket}/${key.join('/')}`);
  const suffix = region().startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${bucket}.s3.${region()}.${suffix}/${key.join('/')}`);
}

/** What storage holds for a file: its size in bytes and its ETag. */
export interface StoredObject {
  size: number;
  etag: string;
}

/**
 * What storage holds, or undefined when nothing is there. S3 answers a
 * missing key with 403, not 404, to a caller who may not list the bucket (no
 * function may), so both mean "not uploaded"; `npm run test:deployed` checks
 * the grants that make every other HEAD succeed.
 */
export async function storedObject(file: FileAddress): Promise<StoredObject | undefined> {
  const url = objectUrl(file);
  const signed = await sigv4().sign(objectRequest('HEAD', url));
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'HEAD',
      headers: signed.headers as Record<string, string>,
    });
  } catch (error) {
    throw new StoreError('Reading a file from storage failed', error);
  }
  if (response.status === 404 || response.status === 403) return undefined;
  if (!response.ok) throw new StoreError(`Reading a file from storage answered ${response.status}`);
  return {
    size: Number(response.headers.get('content-length') ?? 0),
    etag: response.headers.get('etag') ?? '',
  };
}

/**
 * How long a URL signed now stays good: `wanted`, or less when the signing
 * credentials expire sooner, since a signed URL dies with them (a minute of
 * margin). Lambda's environment credentials carry no expiry: `wanted` (15
 * minutes) is then well inside the session they belong to.
 */
export function validFor(wanted: number, expiration: Date | undefined): number {
  if (!expiration) return wanted;
  const left = Math.floor((expiration.getTime() - Date.now()) / 1000) - 60;
  return Math.max(60, Math.min(wanted, left));
}

/** `attachment; filename=…`, with an ASCII fallback and the UTF-8 name (RFC 6266). */
export function contentDisposition(fileName: string | null): string {
  if (!fileName) return 'attachment';
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * A GET URL for a file, valid at most `seconds` (less when the function's own
 * credentials expire sooner: a signed URL dies with them; a minute of margin),
 * answering with the file's name and type whatever the stored headers say.
 */
export async function downloadUrl(
  file: FileAddress,
  fileName: string | null,
  contentType: string,
  seconds: number,
): Promise<{ url: string; expiresInSeconds: number }> {
  const expiresInSeconds = validFor(seconds, (await fromEnv()()).expiration);
  const url = objectUrl(file);
  const request = objectRequest('GET', url, {
    'response-content-disposition': contentDisposition(fileName),
    'response-content-type': contentType,
  });
  // As S3's own presigner signs a GET: the body is not part of the signature.
  request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const signed = await sigv4().presign(request, { expiresIn: expiresInSeconds });
  const query = buildQueryString(signed.query as Record<string, string>);
  return { url: `${url.origin}${url.pathname}?${query}`, expiresInSeconds };
}
