/**
 * `npm run smoke`: checks a running stack end to end, deployed or local —
 * the token is accepted, a room is made, a message is sent over the WebSocket
 * (confirmed) and over HTTP (201), and both are listed; with a second user's
 * token, that user's socket receives both live.
 *
 *   npm run smoke -- --stack Chat-prod [--region eu-west-1] --token <id token> [--token2 <id token>]
 *   npm run smoke -- --http <HttpApiUrl> --ws <WebSocketUrl> --token <jwt> [--token2 <jwt>]
 *
 * `--stack` reads the URLs from the stack's outputs (CloudFormation
 * DescribeStacks with the shell's AWS credentials). Exit 0: every step passed;
 * 1: the first failure, said in one line. Nothing is cleaned up: the room stays
 * with the messages (named "smoke <time>").
 */
import { parseArgs } from 'node:util';

const TIMEOUT_MS = 15_000;

class SmokeFailure extends Error {}

const fail = (step: string, why: string): never => {
  throw new SmokeFailure(`✗ ${step}: ${why}`);
};

async function stackUrls(stack: string, region: string | undefined) {
  const { CloudFormationClient, DescribeStacksCommand } = await import(
    '@aws-sdk/client-cloudformation'
  );
  const cfn = new CloudFormationClient(region ? { region } : {});
  const out = await cfn
    .send(new DescribeStacksCommand({ StackName: stack }))
    .catch((e: Error) => fail('read the stack outputs', `${e.name}: ${e.message}`));
  const outputs = Object.fromEntries(
    (out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]),
  );
  if (!outputs.HttpApiUrl || !outputs.WebSocketUrl)
    fail('read the stack outputs', `${stack} has no HttpApiUrl / WebSocketUrl output`);
  return { http: outputs.HttpApiUrl as string, ws: outputs.WebSocketUrl as string };
}

/** The token's `sub` (not verified here: the server does that). */
function subjectOf(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    if (typeof payload.sub === 'string') return payload.sub;
  } catch {}
  return fail('read the token', 'it is not a JWT with a sub claim');
}

async function call(http: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${http.replace(/\/$/, '')}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  let json: { data?: Record<string, unknown>; error?: { code?: string; message?: string } } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, data: json.data, error: json.error, text };
}

type Frame = { event: string; data: Record<string, unknown> };

/** A socket that collects frames, and waits for one that matches. */
async function open(ws: string, token: string, step: string) {
  const url = `${ws.replace(/\/$/, '')}?token=${encodeURIComponent(token)}`;
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  socket.onmessage = (e) => {
    frames.push(JSON.parse(String(e.data)) as Frame);
    for (const wake of waiters.splice(0)) wake();
  };
  await new Promise<void>((done, refuse) => {
    const timer = setTimeout(
      () => refuse(new SmokeFailure(`✗ ${step}: no answer in ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS,
    );
    socket.onopen = () => {
      clearTimeout(timer);
      done();
    };
    socket.onerror = () => {
      clearTimeout(timer);
      refuse(
        new SmokeFailure(
          `✗ ${step}: the upgrade was refused (a 401 means the token was not accepted)`,
        ),
      );
    };
  });
  const next = async (match: (f: Frame) => boolean, what: string) => {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        fail(
          what,
          `nothing in ${TIMEOUT_MS / 1000} s (got: ${frames.map((f) => f.event).join(', ') || 'no frames'})`,
        );
      await new Promise<void>((wake) => {
        waiters.push(wake);
        setTimeout(wake, left);
      });
    }
  };
  return { socket, next };
}

export async function smoke(options: {
  http: string;
  ws: string;
  token: string;
  token2?: string | undefined;
  log?: (line: string) => void;
}): Promise<void> {
  const log = options.log ?? console.log;
  const { http, ws, token, token2 } = options;
  const me = subjectOf(token);
  const listed = await call(http, token, 'GET', '/api/chat/rooms');
  if (listed.status !== 200)
    fail(
      'GET /api/chat/rooms',
      `${listed.status} ${listed.text.slice(0, 200)} (401: check the stack's issuer and audience against the token's iss and aud)`,
    );
  log(`✓ the HTTP API accepts the token of ${me}`);

  const peer = token2 ? subjectOf(token2) : undefined;
  const created = await call(
    http,
    token,
    'POST',
    '/api/chat/rooms',
    peer
      ? { type: 'direct', member_ids: [peer] }
      : { type: 'group', name: `smoke ${new Date().toISOString()}`, member_ids: [] },
  );
  if (created.status !== 201 && created.status !== 200)
    fail('create a room', `${created.status} ${created.text.slice(0, 200)}`);
  const roomId = String(created.data?.id);
  log(`✓ room ${roomId} (${peer ? `direct with ${peer}` : 'a group of one'})`);

  const mine = await open(ws, token, 'open the WebSocket');
  const theirs = token2 ? await open(ws, token2, "open the second user's WebSocket") : undefined;
  log(`✓ WebSocket open${theirs ? ' for both users' : ''}`);
  try {
    const tempId = `smoke-${Date.now()}`;
    mine.socket.send(
      JSON.stringify({
        action: 'send-message',
        room_id: roomId,
        content: 'smoke over WebSocket',
        temp_id: tempId,
      }),
    );
    const confirmed = await mine.next(
      (f) => (f.event === 'message-confirmed' && f.data.temp_id === tempId) || f.event === 'error',
      'send over the WebSocket',
    );
    if (confirmed.event === 'error')
      fail('send over the WebSocket', JSON.stringify(confirmed.data));
    const overWs = String(confirmed.data.message_id);
    log(`✓ sent over the WebSocket: message-confirmed ${overWs}`);

    const sent = await call(http, token, 'POST', `/api/chat/rooms/${roomId}/messages`, {
      content: 'smoke over HTTP',
      temp_id: `${tempId}-http`,
    });
    if (sent.status !== 201) fail('send over HTTP', `${sent.status} ${sent.text.slice(0, 200)}`);
    const overHttp = String(sent.data?.id);
    log(`✓ sent over HTTP: 201 ${overHttp}`);

    if (theirs) {
      for (const id of [overWs, overHttp]) {
        await theirs.next(
          (f) => f.event === 'new-chat-message' && (f.data.message as { id?: string })?.id === id,
          `receive ${id} live as ${peer}`,
        );
      }
      log(`✓ ${peer} received both live (new-chat-message)`);
    }
    const page = await call(http, token, 'GET', `/api/chat/rooms/${roomId}/messages?limit=10`);
    const ids = ((page.data?.messages as { id: string }[] | undefined) ?? []).map((m) => m.id);
    if (!ids.includes(overWs) || !ids.includes(overHttp))
      fail('list the room', `${page.status}: ${ids.join(', ') || 'no messages'}`);
    log('✓ both are listed');
  } finally {
    mine.socket.close();
    theirs?.socket.close();
  }
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({
    options: {
      stack: { type: 'string' },
      region: { type: 'string' },
      http: { type: 'string' },
      ws: { type: 'string' },
      token: { type: 'string' },
      token2: { type: 'string' },
    },
  });
  try {
    if (!values.token)
      fail(
        'start',
        'pass --token <jwt> (an ID token from your identity provider; see docs/deploy.md)',
      );
    const urls = values.stack
      ? await stackUrls(values.stack, values.region)
      : values.http && values.ws
        ? { http: values.http, ws: values.ws }
        : fail('start', 'pass --stack <name>, or --http <url> and --ws <url>');
    console.log(`smoke: ${urls.http} and ${urls.ws}`);
    await smoke({ ...urls, token: values.token!, token2: values.token2 });
    console.log('smoke: every step passed');
  } catch (error) {
    console.error(error instanceof SmokeFailure ? error.message : `✗ ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
