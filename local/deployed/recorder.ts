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
import { LOCAL_REGION as LOCAL_SIGNING_REGION } from '../ports.ts';
import type { AwsCall, Judged } from './policy.ts';

/**
 * The recording layer of `npm run test:deployed`: HTTP proxies in front of
 * DynamoDB Local, the SQS and SNS emulators, a Secrets Manager stand-in and
 * the local @connections endpoint. Each function signs with its own access key
 * id (its logical id), so every request names its caller. A proxy turns the
 * request into the IAM action(s) and resource ARN(s) AWS would authorize, asks
 * the policy judge, and either forwards it or answers the way AWS answers a
 * call that IAM refuses, so the function sees what it would see on AWS.
 */
export interface RecorderOptions {
  region: string;
  account: string;
  judge: (call: AwsCall) => Promise<Judged>;
  upstream: { dynamodb: string; sqs: string; sns: string; connections: string };
  /** The WebSocket API id the functions' WS_ENDPOINT names. */
  webSocket: { apiId: string };
  /** SecretString by secret ARN (the local cloud's secrets). */
  secrets: Record<string, string>;
  /** Credentials DynamoDB Local files the local data under (it keys databases by access key). */
  dynamoAccessKeyId: string;
}

interface Parsed {
  service: string;
  calls: { action: string; resource: string }[];
}

type Parser = (req: IncomingMessage, body: string) => Parsed | undefined;

const accessKeyOf = (headers: IncomingHttpHeaders) =>
  /Credential=([^/]+)\//.exec(String(headers.authorization ?? ''))?.[1];

type ServerName = 'dynamodb' | 'sqs' | 'sns' | 'secrets' | 'connections';

export async function startRecorder(options: RecorderOptions) {
  const { region, account } = options;
  const calls: Judged[] = [];
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${region}:${account}:${resource}`;
  const tableArn = (name: string) =>
    name.startsWith('arn:') ? name : arn('dynamodb', `table/${name}`);
  const queueArn = (url: string) => arn('sqs', url.split('/').pop() ?? '');

  const dynamodb: Parser = (req, body) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
    if (!op) return undefined;
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    const action = (name: string) => `dynamodb:${name}`;
    const out: Parsed['calls'] = [];
    if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
      // No Transact* permission exists: AWS authorizes each item's own action.
      for (const item of input.TransactItems as Record<string, { TableName: string }>[]) {
        const [kind, detail] = Object.entries(item)[0]!;
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
      for (const table of Object.keys(input.RequestItems as object))
        out.push({ action: action(op), resource: tableArn(table) });
    } else {
      const table = tableArn(String(input.TableName ?? input.TableArn ?? ''));
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
      queueUrl = (JSON.parse(body || '{}') as { QueueUrl?: string }).QueueUrl;
    } else {
      const form = new URLSearchParams(body);
      op = form.get('Action') ?? undefined;
      queueUrl = form.get('QueueUrl') ?? undefined;
    }
    if (!op) return undefined;
    const resource = queueUrl ? queueArn(queueUrl) : '*';
    return { service: 'sqs', calls: [{ action: `sqs:${sqsActions[op] ?? op}`, resource }] };
  };

  const sns: Parser = (_req, body) => {
    const form = new URLSearchParams(body);
    const op = form.get('Action');
    if (!op) return undefined;
    const resource =
      form.get('TopicArn') ??
      form.get('TargetArn') ??
      form.get('EndpointArn') ??
      form.get('PlatformApplicationArn') ??
      '*';
    return { service: 'sns', calls: [{ action: `sns:${op}`, resource }] };
  };

  const secrets: Parser = (req, body) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1];
    if (!op) return undefined;
    const id = String((JSON.parse(body || '{}') as { SecretId?: string }).SecretId ?? '*');
    return { service: 'secretsmanager', calls: [{ action: `secretsmanager:${op}`, resource: id }] };
  };

  const connections: Parser = (req) => {
    const match = /^\/([^/]+)\/@connections\/([^/?]+)/.exec(req.url ?? '');
    if (!match) return undefined;
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
          const fn = accessKeyOf(req.headers);
          const parsed = fn ? parse(req, body) : undefined;
          if (fn && parsed) {
            const results = await judged(fn, parsed);
            const refused = results.find((r) => r.decision !== 'Allowed');
            if (refused) return deny(res, refused);
          }
          if (typeof upstream === 'function') return upstream(req, body, res);
          const out = rewrite ? rewrite(req, body) : { headers: req.headers, body };
          forward(upstream, req, out.headers, out.body, res);
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

  const endpoints: Record<ServerName, string> = {
    dynamodb: '',
    sqs: '',
    sns: '',
    secrets: '',
    connections: '',
  };
  const servers: Record<ServerName, Server> = {
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

function forward(
  upstream: string,
  req: IncomingMessage,
  headers: IncomingHttpHeaders,
  body: string,
  res: ServerResponse,
) {
  const target = new URL(req.url ?? '/', upstream);
  const out = request(
    target,
    {
      method: req.method,
      headers: { ...headers, host: target.host, 'content-length': Buffer.byteLength(body) },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502).end(String(error));
  });
  out.end(body);
}
