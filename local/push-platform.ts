import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  type PushApplicationKind,
  type PushApplications,
  SNS_PLATFORM,
} from '#platform/push-applications.ts';
import { LOCAL_REGION, listenOnLoopback } from './ports.ts';

/**
 * SNS mobile push, locally. fauxqs has no platform applications, so this small
 * server stands in front of it on the SNS endpoint: it answers the platform
 * actions the functions use (CreatePlatformEndpoint, Get/SetEndpointAttributes,
 * DeleteEndpoint, Publish to an endpoint) in SNS's query protocol, records what
 * each endpoint was sent, and passes every other SNS request on to fauxqs. The
 * functions' push code is then the code that runs on AWS. It holds one platform
 * application per kind asked for (by default APNs and FCM, so both platforms
 * push locally); as in SNS, a token names one endpoint per application.
 */
export interface LocalEndpoint {
  arn: string;
  /** The platform application it was made under. */
  application_arn: string;
  token: string;
  user_data: string;
  enabled: boolean;
}

export interface LocalPush {
  endpoint_arn: string;
  /** The platform application that carried it (its endpoint's). */
  application_arn: string;
  /** The endpoint's owner when it was sent (its CustomUserData). */
  user_id: string;
  token: string;
  message: string;
  at: number;
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const ACCOUNT = '000000000000';
const KEEP_PUSHES = 10_000;

const xmlEscape = (s: string) =>
  s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );

function answer(res: ServerResponse, action: string, result = '') {
  res.writeHead(200, { 'content-type': 'text/xml' });
  res.end(
    `<${action}Response xmlns="${NS}">${result ? `<${action}Result>${result}</${action}Result>` : ''}` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

function fail(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { 'content-type': 'text/xml' });
  res.end(
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

/** `Attributes.entry.N.key` / `.value` pairs of a query-protocol request. */
function attributesOf(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = 1; form.has(`Attributes.entry.${n}.key`); n++) {
    out[form.get(`Attributes.entry.${n}.key`)!] = form.get(`Attributes.entry.${n}.value`) ?? '';
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The local platform application of a kind: `arn:aws:sns:<local region>:000000000000:app/<APNS|APNS_SANDBOX|GCM>/chat-local`. */
export const localApplicationArn = (kind: PushApplicationKind) =>
  `arn:aws:sns:${LOCAL_REGION}:${ACCOUNT}:app/${SNS_PLATFORM[kind]}/chat-local`;

/** The applications `npm start` and the tests get unless they ask for others. */
export const DEFAULT_PUSH_APPLICATIONS: readonly PushApplicationKind[] = ['apns', 'fcm'];

export async function startPushPlatform(
  fauxqsEndpoint: string,
  kinds: readonly PushApplicationKind[] = DEFAULT_PUSH_APPLICATIONS,
) {
  const applications: PushApplications = Object.fromEntries(
    kinds.map((kind) => [kind, localApplicationArn(kind)]),
  );
  const applicationArns = new Set(Object.values(applications));
  const endpoints = new Map<string, LocalEndpoint>();
  const pushes: LocalPush[] = [];
  /** Tests simulate an SNS outage: every Publish fails with a 500 (the SDK's retries too). */
  let outage = false;

  const platformActions: Record<
    string,
    (form: URLSearchParams, res: ServerResponse, action: string) => void
  > = {
    CreatePlatformEndpoint(form, res, action) {
      const applicationArn = form.get('PlatformApplicationArn') ?? '';
      if (!applicationArns.has(applicationArn)) {
        return fail(res, 404, 'NotFound', 'PlatformApplication does not exist');
      }
      const token = form.get('Token') ?? '';
      const userData = form.get('CustomUserData') ?? '';
      const existing = [...endpoints.values()].find(
        (e) => e.application_arn === applicationArn && e.token === token,
      );
      if (existing && existing.user_data !== userData) {
        // SNS itself refuses this, naming the endpoint, rather than returning it.
        return fail(
          res,
          400,
          'InvalidParameter',
          `Invalid parameter: Token Reason: Endpoint ${existing.arn} already exists with the same Token, but different attributes.`,
        );
      }
      const endpoint = existing ?? {
        arn: `${applicationArn.replace(':app/', ':endpoint/')}/${randomUUID()}`,
        application_arn: applicationArn,
        token,
        user_data: userData,
        enabled: true,
      };
      endpoints.set(endpoint.arn, endpoint);
      answer(res, action, `<EndpointArn>${endpoint.arn}</EndpointArn>`);
    },
    GetEndpointAttributes(form, res, action) {
      const endpoint = endpoints.get(form.get('EndpointArn') ?? '');
      if (!endpoint) return fail(res, 404, 'NotFound', 'Endpoint does not exist');
      const entries = { Token: endpoint.token, CustomUserData: endpoint.user_data };
      answer(
        res,
        action,
        `<Attributes>${Object.entries({ ...entries, Enabled: String(endpoint.enabled) })
          .map(([k, v]) => `<entry><key>${k}</key><value>${xmlEscape(v)}</value></entry>`)
          .join('')}</Attributes>`,
      );
    },
    SetEndpointAttributes(form, res, action) {
      const endpoint = endpoints.get(form.get('EndpointArn') ?? '');
      if (!endpoint) return fail(res, 404, 'NotFound', 'Endpoint does not exist');
      const attributes = attributesOf(form);
      if (attributes.CustomUserData !== undefined) endpoint.user_data = attributes.CustomUserData;
      if (attributes.Token !== undefined) endpoint.token = attributes.Token;
      if (attributes.Enabled !== undefined) endpoint.enabled = attributes.Enabled === 'true';
      answer(res, action);
    },
    DeleteEndpoint(form, res, action) {
      endpoints.delete(form.get('EndpointArn') ?? '');
      answer(res, action);
    },
    Publish(form, res, action) {
      if (outage) return fail(res, 500, 'InternalError', 'Simulated outage');
      const endpoint = endpoints.get(form.get('TargetArn') ?? '');
      if (!endpoint) return fail(res, 404, 'NotFound', 'Endpoint does not exist');
      if (!endpoint.enabled) return fail(res, 400, 'EndpointDisabled', 'Endpoint is disabled');
      pushes.push({
        endpoint_arn: endpoint.arn,
        application_arn: endpoint.application_arn,
        user_id: endpoint.user_data,
        token: endpoint.token,
        message: form.get('Message') ?? '',
        at: Date.now(),
      });
      if (pushes.length > KEEP_PUSHES) pushes.shift();
      answer(res, action, `<MessageId>${randomUUID()}</MessageId>`);
    },
  };

  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const form = new URLSearchParams(body.toString('utf8'));
      const action = form.get('Action') ?? '';
      const local = platformActions[action];
      // Publish to a topic, and everything else, is fauxqs's.
      if (local && !(action === 'Publish' && !form.has('TargetArn'))) {
        return local(form, res, action);
      }
      const forwarded = await fetch(`${fauxqsEndpoint}${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers: Object.fromEntries(
          Object.entries(req.headers).flatMap(([k, v]) =>
            typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [],
          ),
        ),
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      });
      res.writeHead(forwarded.status, {
        'content-type': forwarded.headers.get('content-type') ?? 'text/xml',
      });
      res.end(Buffer.from(await forwarded.arrayBuffer()));
    } catch {
      if (!res.headersSent) fail(res, 500, 'InternalError', 'Local push platform failed');
      else res.end();
    }
  });
  const port = await listenOnLoopback(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** The platform applications, kind → ARN: the functions' PUSH_APPLICATIONS. */
    applications,
    endpoints,
    /** What was pushed, oldest first; `userId` filters by the endpoint's owner at the time. */
    pushes: (userId?: string) =>
      userId === undefined ? [...pushes] : pushes.filter((p) => p.user_id === userId),
    setOutage(on: boolean) {
      outage = on;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type LocalPushPlatform = Awaited<ReturnType<typeof startPushPlatform>>;
