import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_CREDENTIALS, LOCAL_REGION as LOCAL_SIGNING_REGION } from '../ports.ts';
import { checkPresigned, isPresigned, parseQuery } from '../s3-auth.ts';
import { type PostForm, parsePostForm } from '../s3-post-policy.ts';
import { upstreamCall } from '../s3-upload.ts';
import { errorXml, escapeXml, S3Error } from '../s3-xml.ts';
import { type AwsCall, type Judged, unparsed } from './policy.ts';
import {
  bucketArn,
  credentialKey,
  formCalls,
  formField,
  resignForm,
  resignPresigned,
  s3Calls,
  splitPath,
  verifyForm,
} from './s3.ts';

/**
 * The recording layer of `npm run test:deployed`: HTTP proxies in front of
 * DynamoDB Local, the SQS and SNS emulators, a Secrets Manager stand-in, the
 * local @connections endpoint and the local attachments storage (S3). Each
 * function signs with its own access key id (its logical id), so every request
 * names its caller. A proxy turns the request into the IAM action(s) and
 * resource ARN(s) AWS would authorize, asks the policy judge, and either
 * forwards it or answers the way AWS answers a call that IAM refuses, so the
 * function sees what it would see on AWS.
 *
 * S3 is also called by clients with a function's signature: a browser-form
 * upload (the signer is the form's x-amz-credential) and a presigned URL (its
 * X-Amz-Credential). S3 authorizes those under the signer's identity, so they
 * are judged as the signer's calls. The local storage checks such signatures
 * itself and knows only the local credentials, so once the signature has been
 * checked against the function's, the request is signed again with those.
 */

const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** The secret access key every function signs with (its access key id names it). */
export const FUNCTION_SECRET_ACCESS_KEY = 'local';
export interface RecorderOptions {
  region: string;
  account: string;
  judge: (call: AwsCall) => Promise<Judged>;
  /** `s3`: the local attachments storage (local/storage.ts); without it no S3 proxy is started. */
  upstream: { dynamodb: string; sqs: string; sns: string; connections: string; s3?: string };
  /** The WebSocket API id the functions' WS_ENDPOINT names. */
  webSocket: { apiId: string };
  /** SecretString by secret ARN (the local cloud's secrets). */
  secrets: Record<string, string>;
  /**
   * What a function's GetObject or HeadObject of a missing key answers (its
   * SDK call or a URL it signed). S3 answers 404 only when the signer may also
   * s3:ListBucket the bucket, and 403 AccessDenied otherwise ('as-s3', the
   * default; the s3:ListBucket S3 evaluates is recorded and judged like a
   * call). 'not-found' passes the storage's 404 whatever the grants.
   */
  missingObjects?: 'as-s3' | 'not-found';
  /** Credentials DynamoDB Local files the local data under (it keys databases by access key). */
  dynamoAccessKeyId: string;
  /**
   * Told of every request a function makes with its own credentials, as it
   * arrives (not the URLs and forms it signs for clients, which run later).
   * The deployed runtime checks it against the function's timeout.
   */
  observe?: (fn: string, request: string) => void;
}

interface Parsed {
  service: string;
  calls: { action: string; resource: string }[];
}

/** Thrown by a parser for a request it cannot read: the request is refused and reported. */
class Unparsed extends Error {}

/** A parser answers the calls a request is, or throws Unparsed (undefined: not a call at all). */
type Parser = (req: IncomingMessage, body: string) => Parsed | undefined;

const jsonBody = (body: string): Record<string, unknown> => {
  try {
    const value = JSON.parse(body || '{}') as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Unparsed('its body is not a JSON object');
};
/** A name or ARN the request must carry; its absence makes it unparsed. */
const required = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || value === '') throw new Unparsed(`it names no ${what}`);
  return value;
};

const accessKeyOf = (headers: IncomingHttpHeaders) =>
  /Credential=([^/]+)\//.exec(String(headers.authorization ?? ''))?.[1];

type ServerName = 'dynamodb' | 'sqs' | 'sns' | 'secrets' | 'connections' | 's3';

export async function startRecorder(options: RecorderOptions) {
  const { region, account } = options;
  const calls: Judged[] = [];
  const recorded = calls;
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${region}:${account}:${resource}`;
  const tableArn = (name: unknown) => {
    const table = required(name, 'table');
    return table.startsWith('arn:') ? table : arn('dynamodb', `table/${table}`);
  };
  const queueArn = (url: unknown) => {
    const name = required(url, 'queue').split('/').pop();
    return arn('sqs', required(name, 'queue'));
  };

  const dynamodb: Parser = (req, body) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
    if (!op) throw new Unparsed('no X-Amz-Target operation');
    const input = jsonBody(body);
    const action = (name: string) => `dynamodb:${name}`;
    const out: Parsed['calls'] = [];
    if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
      // No Transact* permission exists: AWS authorizes each item's own action.
      const items = input.TransactItems;
      if (!Array.isArray(items) || items.length === 0) throw new Unparsed('no TransactItems');
      for (const item of items as Record<string, { TableName: string }>[]) {
        const [kind, detail] = Object.entries(item ?? {})[0] ?? [];
        if (!kind || !detail) throw new Unparsed('an empty transaction item');
        const name =
          {
            Put: 'PutItem',
            Update: 'UpdateItem',
            Delete: 'DeleteItem',
            ConditionCheck: 'ConditionCheckItem',
            Get: 'GetItem',
          }[kind] ?? kind;
        out.push({ action: action(name), resource: tableArn(detail.TableName) });
      }
    } else if (op === 'BatchGetItem' || op === 'BatchWriteItem') {
      const tables = Object.keys((input.RequestItems as object | undefined) ?? {});
      if (tables.length === 0) throw new Unparsed('no RequestItems');
      for (const table of tables) out.push({ action: action(op), resource: tableArn(table) });
    } else {
      const table = tableArn(input.TableName ?? input.TableArn);
      const index = input.IndexName ? `${table}/index/${String(input.IndexName)}` : table;
      out.push({ action: action(op), resource: index });
    }
    return { service: 'dynamodb', calls: dedupe(out) };
  };

  // SQS speaks JSON 1.0 (X-Amz-Target) from current SDKs, the query protocol from older ones.
  const sqsActions: Record<string, string> = {
    SendMessageBatch: 'SendMessage',
    DeleteMessageBatch: 'DeleteMessage',
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  };
  const sqs: Parser = (req, body) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    let op: string | undefined;
    let queueUrl: string | undefined;
    if (target) {
      op = target.split('.')[1];
      queueUrl = jsonBody(body).QueueUrl as string | undefined;
    } else {
      const form = new URLSearchParams(body);
      op = form.get('Action') ?? undefined;
      queueUrl = form.get('QueueUrl') ?? undefined;
    }
    if (!op) throw new Unparsed('no SQS action');
    const resource = queueArn(queueUrl);
    return { service: 'sqs', calls: [{ action: `sqs:${sqsActions[op] ?? op}`, resource }] };
  };

  const sns: Parser = (_req, body) => {
    const form = new URLSearchParams(body);
    const op = form.get('Action');
    if (!op) throw new Unparsed('no SNS action');
    // The ARN the request acts on (a phone number, or no ARN at all, is not read here).
    const resource = required(
      form.get('TopicArn') ??
        form.get('TargetArn') ??
        form.get('EndpointArn') ??
        form.get('PlatformApplicationArn'),
      'topic, endpoint or application ARN',
    );
    return { service: 'sns', calls: [{ action: `sns:${op}`, resource }] };
  };

  const secrets: Parser = (req, body) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
    if (!op) throw new Unparsed('no X-Amz-Target operation');
    const id = required(jsonBody(body).SecretId, 'SecretId');
    return { service: 'secretsmanager', calls: [{ action: `secretsmanager:${op}`, resource: id }] };
  };

  const connections: Parser = (req) => {
    const match = /^\/([^/]+)\/@connections\/([^/?]+)/.exec(req.url ?? '');
    if (!match) throw new Unparsed('not a /<stage>/@connections/<id> path');
    const { apiId } = options.webSocket;
    const resource = arn(
      'execute-api',
      `${apiId}/${match[1]}/${req.method}/@connections/${match[2]}`,
    );
    return {
      service: 'execute-api',
      calls: [{ action: 'execute-api:ManageConnections', resource }],
    };
  };

  async function judged(fn: string, parsed: Parsed): Promise<Judged[]> {
    const results = await Promise.all(
      parsed.calls.map((c) => options.judge({ fn, service: parsed.service, ...c })),
    );
    calls.push(...results);
    return results;
  }

  function proxy(
    name: string,
    parse: Parser,
    upstream: string | ((req: IncomingMessage, body: string, res: ServerResponse) => void),
    deny: (res: ServerResponse, refused: Judged) => void,
    rewrite?: (
      req: IncomingMessage,
      body: string,
    ) => { headers: IncomingHttpHeaders; body: string },
  ) {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        (async () => {
          // Every request here is a function's call: one that is unsigned, or that
          // cannot be read as IAM action and ARN, is refused and reported, never forwarded.
          const fn = accessKeyOf(req.headers);
          const request = `${req.method} ${req.url}`;
          if (fn) options.observe?.(fn, `${name} ${request}`);
          let parsed: Parsed | undefined;
          let why: string | undefined = fn ? undefined : 'unsigned (no function named it)';
          if (fn) {
            try {
              parsed = parse(req, body);
              if (!parsed?.calls.length) why = 'no call in it';
            } catch (error) {
              if (!(error instanceof Unparsed)) throw error;
              why = error.message;
            }
          }
          if (!parsed?.calls.length) {
            const refused = unparsed(fn, name, request, why);
            calls.push(refused);
            return deny(res, refused);
          }
          {
            const results = await judged(fn!, parsed);
            const refused = results.find((r) => r.decision !== 'Allowed');
            if (refused) return deny(res, refused);
          }
          if (typeof upstream === 'function') return upstream(req, body, res);
          const out = rewrite ? rewrite(req, body) : { headers: req.headers, body };
          forward(upstream, req.method, req.url, out.headers, out.body, res);
        })().catch((error: unknown) => {
          console.error(`[recorder:${name}]`, error);
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
    });
    return server;
  }

  const principal = (fn: string) => `arn:aws:sts::${account}:assumed-role/${fn}/${fn}`;
  const refusal = (r: Judged) =>
    `User: ${principal(r.fn)} is not authorized to perform: ${r.action} on resource: ${r.evaluated} because no identity-based policy allows the ${r.action} action`;
  const jsonDeny =
    (type: string, extra: Record<string, string> = {}) =>
    (res: ServerResponse, r: Judged) => {
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-errortype': type,
        ...extra,
      });
      res.end(JSON.stringify({ __type: type, message: refusal(r), Message: refusal(r) }));
    };

  // S3 carries bytes (uploads), and clients call it with a function's signature too.
  const signedBy = (accessKeyId: string) => ({
    credentials: { accessKeyId, secretAccessKey: FUNCTION_SECRET_ACCESS_KEY },
    region,
  });
  /** Who signed a client's request, when it is a function (the local credentials are not one). */
  const functionSigner = (credential: string | undefined) => {
    const key = credentialKey(credential);
    return key && key !== LOCAL_CREDENTIALS.accessKeyId ? key : undefined;
  };
  const refusedCall = async (fn: string, calls: Parsed['calls'], request = 's3') => {
    if (calls.length === 0) {
      const refused = unparsed(fn, 's3', request, 'no object or bucket call in it');
      recorded.push(refused);
      return refused;
    }
    return (await judged(fn, { service: 's3', calls: dedupe(calls) })).find(
      (r) => r.decision !== 'Allowed',
    );
  };

  async function s3(req: IncomingMessage, body: Buffer, res: ServerResponse, upstream: string) {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0]!;
    const query = parseQuery(url.slice(rawPath.length));
    const { bucket, rawKey, key } = splitPath(rawPath);
    const answer = (error: S3Error) => {
      res.writeHead(error.status, { 'content-type': 'application/xml' });
      // A HEAD's answer has no body (the SDK names the error by its status).
      res.end(method === 'HEAD' ? undefined : errorXml(error, rawPath));
    };
    const deny = (r: Judged) => answer(new S3Error(403, 'AccessDenied', refusal(r)));
    /** A missing object read by `fn`: S3 says so only if `fn` may list the bucket. */
    const missing = (fn: string, calls: Parsed['calls']) =>
      (options.missingObjects ?? 'as-s3') === 'as-s3' &&
      calls.length === 1 &&
      calls[0]!.action === 's3:GetObject'
        ? async (status: number) => {
            if (status !== 404) return undefined;
            // A question S3 asks itself, not a call the code made: judged, not recorded.
            const listing = await options.judge({
              fn,
              service: 's3',
              action: 's3:ListBucket',
              resource: bucketArn(bucket),
            });
            return listing?.decision === 'Allowed'
              ? undefined
              : () => answer(new S3Error(403, 'AccessDenied', 'Access Denied'));
          }
        : undefined;
    /**
     * DeleteObjects: S3 authorizes each key, and answers 200 with an
     * AccessDenied <Error> for each key the caller may not delete, having
     * deleted the others.
     */
    const deleteObjects = async (fn: string, calls: Parsed['calls']) => {
      if (calls.length === 0) {
        const refused = unparsed(fn, 's3', `${method} ${url}`, 'a DeleteObjects with no key');
        recorded.push(refused);
        return deny(refused);
      }
      const results = await judged(fn, { service: 's3', calls: dedupe(calls) });
      const keyOf = (r: Judged) => r.resource.slice(bucketArn(bucket).length + 1);
      const refused = results.filter((r) => r.decision !== 'Allowed').map(keyOf);
      if (refused.length === 0) return forward(upstream, method, url, req.headers, body, res);
      const errors = refused
        .map(
          (k) =>
            `<Error><Key>${escapeXml(k)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`,
        )
        .join('');
      const allowed = results.filter((r) => r.decision === 'Allowed').map(keyOf);
      let result = `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="${S3_XMLNS}"></DeleteResult>`;
      if (allowed.length > 0) {
        // The same request for the keys it may delete (the storage checks no checksum).
        const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(body.toString('utf8'));
        const objects = allowed.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('');
        const done = await upstreamCall(
          new URL(upstream),
          'POST',
          url,
          { authorization: String(req.headers.authorization), 'content-type': 'application/xml' },
          Buffer.from(`<Delete xmlns="${S3_XMLNS}">${objects}<Quiet>${quiet}</Quiet></Delete>`),
        );
        if (done.status !== 200) {
          res.writeHead(done.status, done.headers);
          return void res.end(done.body);
        }
        result = done.body.toString('utf8');
      }
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(result.replace('</DeleteResult>', `${errors}</DeleteResult>`));
    };
    try {
      // A function's own call (SDK, Authorization header).
      const caller = accessKeyOf(req.headers);
      if (caller) {
        options.observe?.(caller, `s3 ${method} ${url}`);
        const calls = s3Calls({ method, bucket, key, query, headers: req.headers, body });
        if (!key && method === 'POST' && query.some(([n]) => n === 'delete'))
          return deleteObjects(caller, calls);
        const refused = await refusedCall(caller, calls);
        if (refused) return deny(refused);
        return forward(upstream, method, url, req.headers, body, res, missing(caller, calls));
      }
      // A browser-form upload a function signed (its create-attachment slot).
      const contentType = String(req.headers['content-type'] ?? '');
      if (method === 'POST' && bucket && !rawKey && /^multipart\/form-data/i.test(contentType)) {
        let form: PostForm | undefined;
        try {
          form = parsePostForm(body, contentType);
        } catch (error) {
          if (!(error instanceof S3Error)) throw error;
        }
        const signer = form && functionSigner(formField(form, 'x-amz-credential'));
        const calls = form && formCalls(bucket, form);
        // Anything S3 refuses before it authorizes (no key, no policy) is the storage's to answer.
        if (form && signer && calls && formField(form, 'policy') !== undefined) {
          verifyForm(form, signedBy(signer));
          const refused = await refusedCall(signer, calls);
          if (refused) return deny(refused);
          const resigned = resignForm(body, contentType, form, LOCAL_CREDENTIALS);
          return forward(upstream, method, url, req.headers, resigned, res);
        }
      }
      // A presigned URL a function signed (its get-attachment download).
      const signer = isPresigned(query)
        ? functionSigner(query.find(([n]) => n === 'X-Amz-Credential')?.[1])
        : undefined;
      if (signer) {
        checkPresigned(
          { method, rawPath, query, headers: req.headers },
          signedBy(signer),
          new Date(),
        );
        const calls = s3Calls({ method, bucket, key, query, headers: req.headers, body });
        const refused = await refusedCall(signer, calls);
        if (refused) return deny(refused);
        const headers = { ...req.headers, host: new URL(upstream).host };
        const resigned = resignPresigned({ method, rawPath, query, headers }, LOCAL_CREDENTIALS);
        const path = `${rawPath}?${resigned}`;
        return forward(upstream, method, path, headers, body, res, missing(signer, calls));
      }
      // Unsigned (a CORS preflight, an anonymous request): the storage answers as S3 does.
      forward(upstream, method, url, req.headers, body, res);
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      answer(error);
    }
  }

  function s3Proxy(upstream: string) {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        s3(req, Buffer.concat(chunks), res, upstream).catch((error: unknown) => {
          console.error('[recorder:s3]', error);
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
    });
  }

  const endpoints: Record<ServerName, string> = {
    dynamodb: '',
    sqs: '',
    sns: '',
    secrets: '',
    connections: '',
    s3: '',
  };
  const servers: Partial<Record<ServerName, Server>> = {
    dynamodb: proxy(
      'dynamodb',
      dynamodb,
      options.upstream.dynamodb,
      jsonDeny('com.amazon.coral.service#AccessDeniedException'),
      (req, body) => ({
        // DynamoDB Local keeps a database per access key and region: use the local cloud's.
        headers: {
          ...req.headers,
          authorization: String(req.headers.authorization ?? '').replace(
            /Credential=[^/]+\/([^/]+)\/[^/]+\//,
            `Credential=${options.dynamoAccessKeyId}/$1/${LOCAL_SIGNING_REGION}/`,
          ),
        },
        body,
      }),
    ),
    sqs: proxy(
      'sqs',
      sqs,
      options.upstream.sqs,
      jsonDeny('AccessDenied', { 'x-amzn-query-error': 'AccessDenied;Sender' }),
      // Queue URLs name this proxy; the emulator expects its own.
      (req, body) => ({
        headers: req.headers,
        body: body.replaceAll(endpoints.sqs, options.upstream.sqs),
      }),
    ),
    sns: proxy('sns', sns, options.upstream.sns, (res, r) => {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>${refusal(r)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    }),
    secrets: proxy(
      'secretsmanager',
      secrets,
      (_req, body, res) => {
        const id = String((JSON.parse(body || '{}') as { SecretId?: string }).SecretId ?? '');
        const value = options.secrets[id];
        if (value === undefined) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(
            JSON.stringify({
              __type: 'ResourceNotFoundException',
              message: `Secrets Manager can't find the specified secret.`,
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            ARN: id,
            Name: id.split(':').pop(),
            SecretString: value,
            VersionId: 'local',
            VersionStages: ['AWSCURRENT'],
            CreatedDate: Date.now() / 1000,
          }),
        );
      },
      jsonDeny('AccessDeniedException'),
    ),
    connections: proxy('execute-api', connections, options.upstream.connections, (res) => {
      res.writeHead(403, {
        'content-type': 'application/json',
        'x-amzn-errortype': 'ForbiddenException',
      });
      res.end(JSON.stringify({ message: 'Forbidden' }));
    }),
    ...(options.upstream.s3 ? { s3: s3Proxy(options.upstream.s3) } : {}),
  };

  for (const [key, server] of Object.entries(servers) as [ServerName, Server][]) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoints[key] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  return {
    endpoints,
    calls,
    async stop() {
      await Promise.all(
        Object.values(servers).map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}

function dedupe(calls: Parsed['calls']): Parsed['calls'] {
  const seen = new Set<string>();
  return calls.filter((c) => {
    const key = `${c.action} ${c.resource}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Headers that describe this hop, not the request (the body is sent whole, with its length). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'expect'];

function forward(
  upstream: string,
  method: string | undefined,
  path: string | undefined,
  headers: IncomingHttpHeaders,
  body: string | Buffer,
  res: ServerResponse,
  /** Sees the upstream's status first; answers something else to send in its place. */
  instead?: (status: number) => Promise<(() => void) | undefined>,
) {
  const target = new URL(path ?? '/', upstream);
  const sent = { ...headers };
  for (const name of HOP_BY_HOP) delete sent[name];
  const out = request(
    target,
    {
      method,
      headers: { ...sent, host: target.host, 'content-length': Buffer.byteLength(body) },
    },
    (answer) => {
      const status = answer.statusCode ?? 502;
      const pass = () => {
        res.writeHead(status, answer.headers);
        answer.pipe(res);
      };
      if (!instead) return pass();
      instead(status).then(
        (replacement) => {
          if (!replacement) return pass();
          answer.resume();
          replacement();
        },
        (error: unknown) => {
          answer.resume();
          console.error('[recorder]', error);
          if (!res.headersSent) res.writeHead(500).end();
        },
      );
    },
  );
  out.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502).end(String(error));
  });
  out.end(body);
}
