import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { listenOnLoopback } from './ports.ts';

/**
 * fauxqs 2.4.1 (the newest on the registry) refuses an SQS message body with a
 * character above U+FFFF — an emoji — as InvalidMessageContents: its check
 * (`INVALID_MESSAGE_BODY_CHAR` in sqs/sqsTypes.js) is a regex without the `u`
 * flag, so it sees each half of a surrogate pair as a forbidden character. Real
 * SQS accepts #x10000 to #x10FFFF. Locally, this proxy in front of fauxqs's SQS
 * makes the difference disappear, so the functions' code is the code that runs
 * on AWS: a body fauxqs would wrongly refuse is stored base64-encoded behind a
 * marker, and decoded again in every ReceiveMessage answer, with the MD5 digests
 * the SDK checks rewritten to those of the real body. Everything else (SNS,
 * other actions) passes through unchanged. Bodies real SQS refuses stay
 * refused; an encoded body is a third larger, which the 1 MiB limit absorbs.
 */
const MARKER = 'local-sqs-text:';
/** What SQS accepts (its documented character set); fauxqs leaves out the last range. */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** The body as fauxqs stores it: encoded when fauxqs would refuse it, or when it looks encoded. */
export function toEmulator(body: string): string {
  const refusedByEmulatorOnly = ASTRAL.test(body) && SQS_TEXT.test(body);
  if (!refusedByEmulatorOnly && !body.startsWith(MARKER)) return body;
  return MARKER + Buffer.from(body, 'utf8').toString('base64');
}

export function fromEmulator(body: string): string {
  return body.startsWith(MARKER)
    ? Buffer.from(body.slice(MARKER.length), 'base64').toString('utf8')
    : body;
}

interface Entry {
  Id?: string;
  MessageBody?: unknown;
}
interface Received {
  Body?: unknown;
  MD5OfBody?: unknown;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the proxy on loopback in front of `upstream` (fauxqs); answers its endpoint. */
export async function startSqsTextProxy(upstream: string) {
  const server = createServer(async (req, res) => {
    try {
      const raw = await readBody(req);
      const action = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
      const json = String(req.headers['content-type'] ?? '').includes('json');
      let body: Buffer | string = raw;
      /** Per entry id ('' for SendMessage): the digest of the body as the sender wrote it. */
      const digests = new Map<string, string>();
      if (json && (action === 'SendMessage' || action === 'SendMessageBatch')) {
        const input = JSON.parse(raw.toString('utf8')) as Entry & { Entries?: Entry[] };
        for (const entry of action === 'SendMessage' ? [input] : (input.Entries ?? [])) {
          if (typeof entry.MessageBody !== 'string') continue;
          const encoded = toEmulator(entry.MessageBody);
          if (encoded === entry.MessageBody) continue;
          digests.set(entry.Id ?? '', md5(entry.MessageBody));
          entry.MessageBody = encoded;
        }
        body = JSON.stringify(input);
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).flatMap(([k, v]) =>
          typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [],
        ),
      );
      const answer = await fetch(`${upstream}${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      });
      let out = Buffer.from(await answer.arrayBuffer());
      const rewrite = answer.ok && json && (digests.size > 0 || action === 'ReceiveMessage');
      if (rewrite) {
        const result = JSON.parse(out.toString('utf8')) as {
          MD5OfMessageBody?: string;
          Successful?: { Id?: string; MD5OfMessageBody?: string }[];
          Messages?: Received[];
        };
        if (action === 'SendMessage' && digests.has('')) result.MD5OfMessageBody = digests.get('');
        for (const ok of result.Successful ?? []) {
          const digest = digests.get(ok.Id ?? '');
          if (digest) ok.MD5OfMessageBody = digest;
        }
        for (const message of result.Messages ?? []) {
          if (typeof message.Body !== 'string' || !message.Body.startsWith(MARKER)) continue;
          const text = fromEmulator(message.Body);
          message.Body = text;
          message.MD5OfBody = md5(text);
        }
        out = Buffer.from(JSON.stringify(result), 'utf8');
      }
      res.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/x-amz-json-1.0',
        ...(answer.headers.get('x-amzn-query-error')
          ? { 'x-amzn-query-error': answer.headers.get('x-amzn-query-error')! }
          : {}),
      });
      res.end(out);
    } catch (error) {
      console.error('[sqs] local text proxy failed', error);
      if (!res.headersSent) res.writeHead(502).end();
      else res.end();
    }
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
