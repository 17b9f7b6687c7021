import WebSocket from 'ws';

/** What both sides of the noisy-neighbour bench (bench/noisy-neighbour.ts) talk with. */
export type Frame = { event: string; data: Record<string, unknown> };

export interface Socket {
  ws: WebSocket;
  send(frame: unknown): void;
  onFrame?: (frame: Frame) => void;
}

export async function openSocket(wsUrl: string, token: string): Promise<Socket> {
  const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
  const socket: Socket = {
    ws,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
  };
  ws.on('message', (raw) => socket.onFrame?.(JSON.parse(raw.toString()) as Frame));
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  return socket;
}

export async function callApi(
  httpUrl: string,
  method: string,
  path: string,
  bearer: string,
  body?: unknown,
): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as { data?: Record<string, unknown> };
  return { status: res.status, data: json.data ?? {} };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
