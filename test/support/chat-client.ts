import WebSocket from 'ws';

/** A test client that speaks the contract the way the mobile app does: HTTP + WebSocket. */
export interface Frame {
  event: string;
  data: Record<string, unknown>;
}

export interface HttpAnswer<T = Record<string, unknown>> {
  status: number;
  body: { success: boolean; message?: string; data: T; error?: { code: string; message: string } };
  headers: Headers;
}

export class ChatClient {
  readonly frames: Frame[] = [];
  private socket: WebSocket | undefined;
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  constructor(
    readonly userId: string,
    readonly token: string,
    private readonly httpUrl: string,
    private readonly wsUrl: string,
    private readonly heartbeatMs?: number,
  ) {}

  async http<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<HttpAnswer<T>> {
    const res = await fetch(`${this.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  }

  /** Opens a WebSocket (token in the query string, or as a subprotocol). */
  connect(options: { viaProtocol?: boolean } = {}): Promise<WebSocket> {
    const url = options.viaProtocol
      ? this.wsUrl
      : `${this.wsUrl}?token=${encodeURIComponent(this.token)}`;
    const socket = options.viaProtocol
      ? new WebSocket(url, ['chat', this.token])
      : new WebSocket(url);
    this.socket = socket;
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    if (this.heartbeatMs) {
      const timer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: 'ping' }));
      }, this.heartbeatMs);
      socket.once('close', () => clearInterval(timer));
    }
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      socket.once('error', reject);
    });
  }

  send(frame: Record<string, unknown>): void {
    if (!this.socket) throw new Error('not connected');
    this.socket.send(JSON.stringify(frame));
  }

  /** The first frame (already received or still to come) that matches. */
  waitFor(
    event: string,
    match: (data: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Frame> {
    const test = (f: Frame) => f.event === event && match(f.data);
    const seen = this.frames.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.userId}: no ${event} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match: test,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  eventsNamed(event: string): Frame[] {
    return this.frames.filter((f) => f.event === event);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close();
    });
  }

  /** Drops the TCP connection without a close handshake (a phone losing signal). */
  kill(): void {
    this.socket?.terminate();
  }
}

/** Polls until `check` passes (for effects of streams and queues). */
export async function eventually<T>(
  check: () => Promise<T>,
  timeoutMs = 8000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
  throw lastError;
}
