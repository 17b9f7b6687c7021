import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import type { PostForm, PostUpload } from './s3-post-policy.ts';
import { escapeXml } from './s3-xml.ts';

/**
 * How storage.ts talks to fauxqs's S3, and how an accepted browser upload
 * (s3-post-policy.ts) gets stored there with what S3 would store: the object,
 * its Content-Type field as content type (fauxqs reads that field only when
 * spelled `Content-Type`), and the answer S3 gives (204, or what
 * success_action_status / success_action_redirect ask for). A form over
 * fauxqs's 11 MiB body limit (S3 takes up to 5 GB) goes in as a multipart
 * upload copied onto itself, so it ends as one plain object with an MD5 ETag.
 */

export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A buffered request to fauxqs (`path` already encoded). */
export function upstreamCall(
  upstream: URL,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 500,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** fauxqs's request body limit (its Fastify `bodyLimit`): larger forms go in parts. */
export const UPSTREAM_BODY_LIMIT = 11 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

/** The form fields fauxqs's PostObject reads, as it spells them (it matches case). */
const FAUXQS_SPELLING = new Map(
  [
    'key',
    'Content-Type',
    'Cache-Control',
    'Content-Disposition',
    'Content-Encoding',
    'success_action_status',
    'success_action_redirect',
    'redirect',
  ].map((name) => [name.toLowerCase(), name]),
);

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** Stores an accepted upload in fauxqs; answers what S3 answers to the form. */
export async function storeUpload(
  upstream: URL,
  bucket: string,
  raw: Buffer,
  contentType: string,
  form: PostForm,
  upload: PostUpload,
): Promise<UpstreamAnswer> {
  // (With room for a rewritten form's own part headers.)
  if (raw.length > UPSTREAM_BODY_LIMIT - 64 * 1024)
    return storeInParts(upstream, bucket, form, upload);
  // The request as sent, unless fauxqs would misread it (a field in other case, `${filename}`).
  const asSent = form.fields.every(({ name }) => {
    const spelling = FAUXQS_SPELLING.get(name.toLowerCase());
    return spelling === undefined || spelling === name;
  });
  const original = form.fields.find((f) => f.name.toLowerCase() === 'key')?.value;
  if (asSent && original === upload.key)
    return upstreamCall(upstream, 'POST', `/${bucket}`, { 'content-type': contentType }, raw);
  const boundary = `local-storage-${randomBytes(12).toString('hex')}`;
  const part = (name: string, extra = '') =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n`);
  const chunks: Buffer[] = [];
  for (const [lower, value] of upload.fields) {
    const name =
      FAUXQS_SPELLING.get(lower) ?? (lower.startsWith('x-amz-meta-') ? lower : undefined);
    if (name) chunks.push(part(name), Buffer.from(`${value}\r\n`));
  }
  chunks.push(part('file', '; filename="file"'), form.file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return upstreamCall(
    upstream,
    'POST',
    `/${bucket}`,
    { 'content-type': `multipart/form-data; boundary=${boundary}` },
    Buffer.concat(chunks),
  );
}

/** Over fauxqs's body limit: a multipart upload, then a copy onto itself (one plain object, MD5 ETag). */
async function storeInParts(
  upstream: URL,
  bucket: string,
  form: PostForm,
  upload: PostUpload,
): Promise<UpstreamAnswer> {
  const path = `/${bucket}/${encodeKey(upload.key)}`;
  const headers: Record<string, string> = {
    'content-type': upload.fields.get('content-type') ?? 'binary/octet-stream',
  };
  for (const [name, value] of upload.fields)
    if (
      name.startsWith('x-amz-meta-') ||
      ['cache-control', 'content-disposition', 'content-encoding'].includes(name)
    )
      headers[name] = value;
  const created = await upstreamCall(upstream, 'POST', `${path}?uploads`, headers);
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString('utf8'))?.[1];
  if (created.status !== 200 || !uploadId) return created;
  const query = (more: string) => `${path}?uploadId=${encodeURIComponent(uploadId)}${more}`;
  try {
    const etags: string[] = [];
    for (let at = 0, n = 1; at < form.file.length || n === 1; at += PART_SIZE, n++) {
      const part = await upstreamCall(
        upstream,
        'PUT',
        query(`&partNumber=${n}`),
        {},
        form.file.subarray(at, at + PART_SIZE),
      );
      if (part.status !== 200) throw part;
      etags.push(String(part.headers.etag));
    }
    const parts = etags.map(
      (etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`,
    );
    const done = await upstreamCall(
      upstream,
      'POST',
      query(''),
      { 'content-type': 'application/xml' },
      Buffer.from(`<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`),
    );
    if (done.status !== 200) throw done;
  } catch (failure) {
    await upstreamCall(upstream, 'DELETE', query('')).catch(() => undefined);
    if (failure && typeof failure === 'object' && 'status' in failure)
      return failure as UpstreamAnswer;
    throw failure;
  }
  const copied = await upstreamCall(upstream, 'PUT', path, {
    'x-amz-copy-source': path,
    'x-amz-metadata-directive': 'COPY',
  });
  if (copied.status !== 200) return copied;
  const etag = /<ETag>([^<]+)<\/ETag>/.exec(copied.body.toString('utf8'))?.[1] ?? '';
  return postAnswer(bucket, upload, etag);
}

/** S3's answer to a stored form (fauxqs's own, for the uploads it stores itself). */
function postAnswer(bucket: string, upload: PostUpload, etag: string): UpstreamAnswer {
  const redirect = upload.fields.get('success_action_redirect') ?? upload.fields.get('redirect');
  if (redirect && URL.canParse(redirect)) {
    const location = new URL(redirect);
    location.searchParams.set('bucket', bucket);
    location.searchParams.set('key', upload.key);
    location.searchParams.set('etag', etag);
    return { status: 303, headers: { location: location.toString(), etag }, body: Buffer.alloc(0) };
  }
  const status = Number(upload.fields.get('success_action_status'));
  if (status === 201) {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<PostResponse><Bucket>${bucket}</Bucket><Key>${escapeXml(upload.key)}</Key><ETag>${etag}</ETag></PostResponse>`;
    return {
      status,
      headers: { etag, 'content-type': 'application/xml' },
      body: Buffer.from(xml),
    };
  }
  return { status: status === 200 ? 200 : 204, headers: { etag }, body: Buffer.alloc(0) };
}
