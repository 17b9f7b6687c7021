import type { IncomingHttpHeaders } from 'node:http';
import {
  checkPostSignature,
  hexHmac,
  presignedSignature,
  type SigningCredentials,
  signingKey,
  uriEncode,
} from '../s3-auth.ts';
import type { PostForm } from '../s3-post-policy.ts';
import { deletedKeys } from '../s3-xml.ts';

/**
 * S3 as the recorder (recorder.ts) sees it: which IAM actions on which ARNs a
 * request to a path-style bucket is authorized by, who signed it (a function's
 * SDK call, or a browser form or presigned URL a function signed for a
 * client), and how a client's request is signed again for the local storage
 * (local/storage.ts), which accepts only the local credentials while every
 * function signs with its own access key id. Pure, apart from the clock.
 */
export interface S3Call {
  action: string;
  resource: string;
}

export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
export const objectArn = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;

export interface S3Target {
  method: string;
  bucket: string;
  /** Decoded; '' for a bucket request. */
  key: string;
  query: readonly [string, string][];
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Query parameters of ListObjects(V2) (and the SDK's `x-id`): still s3:ListBucket. */
const LIST_PARAMS = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'continuation-token',
  'start-after',
  'encoding-type',
  'fetch-owner',
  'marker',
  'x-id',
]);
/** Object subresources whose actions are not mapped here (ACLs, versions, retention...). */
const OBJECT_SUBRESOURCES = new Set([
  'acl',
  'versionId',
  'retention',
  'legal-hold',
  'restore',
  'select',
  'torrent',
  'attributes',
]);

/** `/<bucket>/<key>` as the request line has it. */
export function splitPath(rawPath: string): { bucket: string; rawKey: string; key: string } {
  const [, bucket = '', rawKey = ''] = /^\/([^/]*)\/?(.*)$/.exec(rawPath) ?? [];
  let key = rawKey;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    // S3 answers InvalidURI; the storage does too once the call is forwarded.
  }
  return { bucket, rawKey, key };
}

/**
 * The IAM actions and resources S3 authorizes a request by (Service
 * Authorization Reference, "Actions defined by Amazon S3"; an operation's
 * action is not always its name: HeadObject is s3:GetObject, DeleteObjects is
 * s3:DeleteObject on each key, a PutObject that tags needs s3:PutObjectTagging
 * too). An operation this does not know is `s3:Unknown…`, which no policy
 * grants: a function starting to make a new kind of S3 call is refused here
 * until it is mapped, never waved through.
 */
export function s3Calls(t: S3Target): S3Call[] {
  const has = (name: string) => t.query.some(([n]) => n === name);
  const object = objectArn(t.bucket, t.key);
  const bucket = bucketArn(t.bucket);
  const header = (name: string) => {
    const value = t.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  if (!t.key) {
    if (t.method === 'POST' && has('delete'))
      return [...new Set(deletedKeys(t.body.toString('utf8')))].map((k) => ({
        action: 's3:DeleteObject',
        resource: objectArn(t.bucket, k),
      }));
    // HeadBucket and ListObjects(V2) are both s3:ListBucket.
    if ((t.method === 'GET' || t.method === 'HEAD') && t.query.every(([n]) => LIST_PARAMS.has(n)))
      return [{ action: 's3:ListBucket', resource: bucket }];
    return [{ action: `s3:Unknown${t.method}Bucket`, resource: bucket }];
  }
  const other = t.query.find(([n]) => OBJECT_SUBRESOURCES.has(n));
  if (other) return [{ action: `s3:Unknown${t.method}Object(${other[0]})`, resource: object }];
  if (has('tagging')) {
    const action = {
      GET: 'GetObjectTagging',
      PUT: 'PutObjectTagging',
      DELETE: 'DeleteObjectTagging',
    }[t.method];
    return [{ action: `s3:${action ?? `Unknown${t.method}Tagging`}`, resource: object }];
  }
  if (has('uploadId') && t.method === 'DELETE')
    return [{ action: 's3:AbortMultipartUpload', resource: object }];
  if (has('uploadId') && t.method === 'GET')
    return [{ action: 's3:ListMultipartUploadParts', resource: object }];
  switch (t.method) {
    case 'GET':
    case 'HEAD':
      return [{ action: 's3:GetObject', resource: object }];
    case 'DELETE':
      return [{ action: 's3:DeleteObject', resource: object }];
    case 'PUT':
    case 'POST': {
      // PutObject, CopyObject, and the steps of a multipart upload are all s3:PutObject.
      if (t.method === 'POST' && !has('uploads') && !has('uploadId'))
        return [{ action: 's3:UnknownPOSTObject', resource: object }];
      const calls: S3Call[] = [{ action: 's3:PutObject', resource: object }];
      if (header('x-amz-tagging') !== undefined)
        calls.push({ action: 's3:PutObjectTagging', resource: object });
      const source = header('x-amz-copy-source');
      if (source !== undefined) {
        const [path = '', version] = source.split('?versionId=');
        const from = decodeURIComponent(path).replace(/^\//, '');
        calls.push({
          action: version ? 's3:GetObjectVersion' : 's3:GetObject',
          resource: `arn:aws:s3:::${from}`,
        });
      }
      return calls;
    }
    default:
      return [{ action: `s3:Unknown${t.method}Object`, resource: object }];
  }
}

/** A form field by name, as S3 matches them (without regard to case). */
export const formField = (form: PostForm, name: string) =>
  form.fields.find((f) => f.name.toLowerCase() === name.toLowerCase())?.value;

/**
 * What S3 authorizes a browser-form upload (POST Object) by, under the
 * signer's identity: s3:PutObject on the form's key, and s3:PutObjectTagging
 * too when the form tags the object. Undefined when the form names no key
 * (S3 refuses it before any authorization; the storage answers that).
 */
export function formCalls(bucket: string, form: PostForm): S3Call[] | undefined {
  const raw = formField(form, 'key');
  if (!raw) return undefined;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's placeholder, not a template.
  const key = raw.replaceAll('${filename}', form.filename ?? '');
  const resource = objectArn(bucket, key);
  const calls: S3Call[] = [{ action: 's3:PutObject', resource }];
  if (formField(form, 'tagging') !== undefined)
    calls.push({ action: 's3:PutObjectTagging', resource });
  return calls;
}

/** The access key id of an X-Amz-Credential value (`<key id>/<date>/<region>/s3/aws4_request`). */
export const credentialKey = (credential: string | undefined) =>
  credential?.split('/')[0] || undefined;

/**
 * Checks a browser form's signature against its signer's credentials (the
 * first thing S3 does), throwing the S3Error S3 answers when it fails.
 */
export function verifyForm(
  form: PostForm,
  signer: { credentials: SigningCredentials; region: string },
): void {
  checkPostSignature(
    {
      credential: formField(form, 'x-amz-credential') ?? '',
      policy: formField(form, 'policy') ?? '',
      signature: formField(form, 'x-amz-signature') ?? '',
    },
    signer,
  );
}

/**
 * The same form signed with `as`: its credential field and the policy's
 * condition on it name `as`'s access key, and the signature is over the
 * rewritten policy. Every other field and condition, and the file, are kept
 * byte for byte, so the storage checks the client's form as S3 would. The
 * form must have been verified (verifyForm) first.
 */
export function resignForm(
  raw: Buffer,
  contentType: string,
  form: PostForm,
  as: SigningCredentials,
): Buffer {
  const boundary = /boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  if (!boundary) throw new Error('resignForm: no boundary');
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const credential = formField(form, 'x-amz-credential')!;
  const resigned = `${as.accessKeyId}/${credential.split('/').slice(1).join('/')}`;
  const isCredential = (name: string) => name.toLowerCase() === 'x-amz-credential';

  const doc = JSON.parse(
    Buffer.from(formField(form, 'policy') ?? '', 'base64').toString('utf8'),
  ) as { conditions?: unknown[] };
  doc.conditions = (doc.conditions ?? []).map((c) => {
    if (Array.isArray(c) && typeof c[1] === 'string' && isCredential(c[1].replace(/^\$/, '')))
      return [c[0], c[1], resigned];
    if (c && typeof c === 'object' && !Array.isArray(c)) {
      const [name] = Object.keys(c);
      if (name !== undefined && isCredential(name)) return { [name]: resigned };
    }
    return c;
  });
  const policy = Buffer.from(JSON.stringify(doc), 'utf8').toString('base64');
  const [, date = '', region = ''] = credential.split('/');
  const signature = hexHmac(signingKey(as.secretAccessKey, date, region), policy);

  const fields = form.fields.map(({ name, value }) => {
    const lower = name.toLowerCase();
    const v =
      lower === 'x-amz-credential'
        ? resigned
        : lower === 'policy'
          ? policy
          : lower === 'x-amz-signature'
            ? signature
            : value;
    return Buffer.from(
      `${delimiter}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`,
      'utf8',
    );
  });
  // The file part (and anything after it) as sent: its delimiter is the last one before the file.
  const fileAt = form.file.byteOffset - raw.byteOffset;
  const filePart = raw.lastIndexOf(delimiter, fileAt);
  if (fileAt < 0 || fileAt > raw.length || filePart < 0)
    throw new Error('resignForm: the file is not part of the body');
  return Buffer.concat([...fields, raw.subarray(filePart)]);
}

/**
 * The query string of the same presigned URL signed with `as` for a request
 * with `headers` (the storage's host): the credential names `as`'s key, and
 * the signature is recomputed over the same method, path, parameters, signed
 * headers and date, as SigV4 query signing does. Expiry and every other
 * parameter stay as the function signed them.
 */
export function resignPresigned(
  request: {
    method: string;
    rawPath: string;
    query: readonly [string, string][];
    headers: IncomingHttpHeaders;
  },
  as: SigningCredentials,
): string {
  const param = (name: string) => request.query.find(([n]) => n === name)?.[1] ?? '';
  const credential = param('X-Amz-Credential');
  const [, date = '', region = '', service = 's3'] = credential.split('/');
  const resigned = `${as.accessKeyId}/${credential.split('/').slice(1).join('/')}`;
  const query = request.query
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]): [string, string] => [
      name,
      name === 'X-Amz-Credential' ? resigned : value,
    ]);
  const { signature } = presignedSignature(
    { ...request, query },
    { date, region, service },
    as.secretAccessKey,
  );
  return [...query, ['X-Amz-Signature', signature] as const]
    .map(([name, value]) => `${uriEncode(name)}=${uriEncode(value)}`)
    .join('&');
}
