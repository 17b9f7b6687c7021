import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { LOCAL_CREDENTIALS, LOCAL_REGION, listenOnLoopback } from './ports.ts';
import { checkPresigned, isPresigned, parseQuery } from './s3-auth.ts';
import { corsFor, type Headers } from './s3-cors.ts';
import { checkPostPolicy, parsePostForm } from './s3-post-policy.ts';
import { storeUpload, upstreamCall } from './s3-upload.ts';
import {
  deletedKeys,
  errorXml,
  parseTagging,
  parseTaggingHeader,
  S3Error,
  type Tag,
  taggingXml,
} from './s3-xml.ts';

/**
 * The attachments bucket on this machine: a loopback proxy in front of
 * fauxqs's S3 that makes it behave as S3 does where fauxqs does not. It
 * checks browser uploads against their signed POST policy (s3-post-policy.ts)
 * and presigned URLs against their signature and expiry (s3-auth.ts),
 * refuses unsigned requests (the bucket is private), keeps object tags
 * (fauxqs has none), applies a presigned GET's `response-*` overrides, and
 * answers CORS as the deployed bucket's rule does. Requests signed with an
 * Authorization header (the functions' SDK calls) pass through unchanged.
 */
export const LOCAL_ATTACHMENTS_BUCKET = 'chat-attachments';

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

const copyHeaders = (from: IncomingMessage['headers']): Headers =>
  Object.fromEntries(
    Object.entries(from).flatMap(([k, v]) =>
      v === undefined || HOP_BY_HOP.has(k) ? [] : [[k, v]],
    ),
  );

function decodeKey(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startLocalStorage(options: {
  upstream: string;
  create: (bucket: string) => void | Promise<void>;
  allowedOrigins: readonly string[];
}): Promise<{ endpoint: string; bucket: string; stop(): Promise<void> }> {
  await options.create(LOCAL_ATTACHMENTS_BUCKET);
  const upstream = new URL(options.upstream);
  const accepted = { credentials: LOCAL_CREDENTIALS, region: LOCAL_REGION };
  /** Object tags by `<bucket>/<key>`. */
  const tags = new Map<string, Tag[]>();
  const setTags = (id: string, set: Tag[] | undefined) => {
    if (set?.length) tags.set(id, set);
    else tags.delete(id);
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0]!;
    const query = parseQuery(url.slice(rawPath.length));
    const has = (name: string) => query.some(([n]) => n === name);
    const [, bucket = '', rawKey = ''] = /^\/([^/]*)\/?(.*)$/.exec(rawPath) ?? [];
    const key = decodeKey(rawKey);
    const id = `${bucket}/${key}`;
    const corsRule = corsFor(options.allowedOrigins, req.headers);
    const cors = corsRule.answer(method);
    const send = (status: number, headers: Headers, body?: Buffer | string) => {
      res.writeHead(status, { ...headers, ...cors });
      res.end(method === 'HEAD' ? undefined : body);
    };
    try {
      if (key === undefined)
        throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
      if (method === 'OPTIONS') return send(200, corsRule.preflight(key ? 'OBJECT' : 'BUCKET'));
      const contentType = req.headers['content-type'] ?? '';
      if (method === 'POST' && bucket && !rawKey && /^multipart\/form-data/i.test(contentType)) {
        const raw = await readBody(req);
        const form = parsePostForm(raw, contentType);
        const upload = checkPostPolicy(form, { bucket, now: new Date(), ...accepted });
        const answer = await storeUpload(upstream, bucket, raw, contentType, form, upload);
        if (answer.status < 300 || answer.status === 303)
          setTags(`${bucket}/${upload.key}`, upload.tags);
        return send(answer.status, copyHeaders(answer.headers), answer.body);
      }
      if (isPresigned(query))
        checkPresigned({ method, rawPath, query, headers: req.headers }, accepted, new Date());
      else if (!req.headers.authorization) throw new S3Error(403, 'AccessDenied', 'Access Denied');

      if (key && has('tagging')) {
        const head = await upstreamCall(upstream, 'HEAD', `/${bucket}/${rawKey}`);
        if (head.status === 404) {
          const found = await upstreamCall(upstream, 'HEAD', `/${bucket}`);
          throw found.status === 404
            ? new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', {
                BucketName: bucket,
              })
            : new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
        }
        if (method === 'GET')
          return send(200, { 'content-type': 'application/xml' }, taggingXml(tags.get(id) ?? []));
        if (method === 'PUT') {
          setTags(id, parseTagging((await readBody(req)).toString('utf8')));
          return send(200, { 'content-length': '0' });
        }
        if (method === 'DELETE') {
          tags.delete(id);
          return send(204, {});
        }
        throw new S3Error(
          405,
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
        );
      }
      // DeleteObjects: its body says which tags go with the objects.
      const deleting =
        method === 'POST' && !rawKey && has('delete') ? await readBody(req) : undefined;
      const tagging = req.headers['x-amz-tagging'];
      const newTags = typeof tagging === 'string' ? parseTaggingHeader(tagging) : undefined;
      forward(req, res, deleting, cors, (status, headers) => {
        if (status >= 300) return;
        if (deleting)
          for (const k of deletedKeys(deleting.toString('utf8'))) tags.delete(`${bucket}/${k}`);
        if (!key) return;
        if (method === 'DELETE' && !has('uploadId')) tags.delete(id);
        if (method === 'POST' && has('uploadId')) tags.delete(id);
        if (method === 'PUT' && !has('uploadId')) {
          const source = req.headers['x-amz-copy-source'];
          const copied =
            typeof source === 'string' && req.headers['x-amz-tagging-directive'] !== 'REPLACE'
              ? tags.get(decodeURIComponent(source.split('?')[0]!).replace(/^\//, ''))
              : newTags;
          setTags(id, copied);
        }
        if (method === 'GET' || method === 'HEAD') {
          for (const [name, value] of query)
            if (RESPONSE_OVERRIDES[name]) headers[RESPONSE_OVERRIDES[name]] = value;
          const count = tags.get(id)?.length;
          if (method === 'GET' && count) headers['x-amz-tagging-count'] = String(count);
        }
      });
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      send(error.status, { 'content-type': 'application/xml' }, errorXml(error, rawPath));
    }
  }

  /** Streams the request to fauxqs and its answer back; `adjust` sees the answer's head first. */
  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | undefined,
    cors: Headers,
    adjust: (status: number, headers: Headers) => void,
  ) {
    const headers = copyHeaders(req.headers);
    if (body) headers['content-length'] = String(body.length);
    const up = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        const status = answer.statusCode ?? 500;
        const out = copyHeaders(answer.headers);
        adjust(status, out);
        res.writeHead(status, { ...out, ...cors });
        answer.pipe(res);
      },
    );
    up.on('error', (error) => fail(res, error));
    if (body) up.end(body);
    else req.pipe(up);
  }

  function fail(res: ServerResponse, error: unknown) {
    console.error('[s3] local storage proxy failed', error);
    if (res.headersSent) return void res.destroy();
    const internal = new S3Error(
      500,
      'InternalError',
      'We encountered an internal error. Please try again.',
    );
    res.writeHead(500, { 'content-type': 'application/xml' }).end(errorXml(internal));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => fail(res, error));
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket: LOCAL_ATTACHMENTS_BUCKET,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
