import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpRoutes } from '#functions/routes.ts';
import { heartbeatTimeoutMs } from '#platform/env.ts';
import {
  ChatApiError,
  type Clock,
  DEFAULTS,
  RealtimeConnection,
  ROUTES,
  type SocketLike,
} from '../../client/src/index.ts';

/** Timers that run only when the test advances time. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers.delete(id as number);
  };
  /** Runs every timer due within `ms`, in time order, letting promises settle between them. */
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = [...this.timers.entries()]
        .filter(([, x]) => x.at <= end)
        .sort(([ia, a], [ib, b]) => a.at - b.at || ia - ib)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
    await flush();
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closedWith: number | undefined;
  onopen: ((e: unknown) => void) | null = null;
  onclose: ((e: { code?: number }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  autoPong = false;
  constructor(readonly url: string) {}
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open');
    const frame = JSON.parse(data);
    this.sent.push(frame);
    if (this.autoPong && frame.action === 'ping')
      queueMicrotask(() => this.push('pong', { server_time: 'now' }));
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // server side
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(event: string, data: unknown) {
    this.onmessage?.({ data: JSON.stringify({ event, data }) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
  actions(name: string) {
    return this.sent.filter((f) => f.action === name);
  }
}

function setup(options: Partial<ConstructorParameters<typeof RealtimeConnection>[0]> = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  let tokens = 0;
  const conn = new RealtimeConnection({
    url: 'ws://chat.test',
    token: async () => `tok${++tokens}`,
    webSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    clock,
    random: () => 0.5,
    ...options,
  });
  const states: string[] = [];
  conn.on('state', (s) => states.push(s));
  return { clock, sockets, conn, states, last: () => sockets.at(-1)! };
}

const message = (id: string) => ({
  message: {
    id,
    room_id: 'r1',
    sender_id: 'u_bob',
    sender_name: 'Bob',
    content: 'hi',
    message_type: 'text',
    file_url: null,
    media: null,
    reply_to_message_id: null,
    reply_to: null,
    mentions: [],
    forwarded_from: null,
    metadata: null,
    forwarded_count: 0,
    is_encrypted: false,
    encryption_key_id: null,
    encrypted_content: null,
    is_deleted: false,
    created_at: '2026-01-01T00:00:00.000Z',
  },
});

const confirmation = (tempId: string, messageId: string) => ({
  temp_id: tempId,
  message_id: messageId,
  delivered_to_count: 1,
  queued_for_count: 0,
  timestamp: '2026-01-01T00:00:00.000Z',
});

describe('RealtimeConnection', () => {
  it('reconnects with exponential backoff and full jitter, asking for a fresh token each time', async () => {
    const { clock, sockets, conn, last } = setup();
    conn.start();
    await clock.advance(0);
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe('ws://chat.test?token=tok1');
    const opened: number[] = [];
    for (let i = 0; i < 8; i++) {
      const before = sockets.length;
      last().drop();
      // random() = 0.5: each delay is half its ceiling, min(30 s, 500 ms · 2^n).
      while (sockets.length === before) await clock.advance(1);
      opened.push(clock.now());
    }
    const gaps = opened.map((t, i) => t - (i === 0 ? 0 : opened[i - 1]!));
    expect(gaps).toEqual([250, 500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect(last().url).toBe('ws://chat.test?token=tok9');
    expect(conn.reconnectDelay(3)).toBe(2000);
    const spread = new RealtimeConnection({
      url: 'ws://x',
      token: () => 't',
      random: () => 0.999,
    }).reconnectDelay(20);
    expect(spread).toBeLessThan(30_000);
    expect(spread).toBeGreaterThan(29_000);
  });

  it('pings every 25 seconds by default, well inside the server’s 60 s heartbeat timeout, and treats a connection that does not answer as dropped', async () => {
    const { clock, sockets, conn, last, states } = setup();
    conn.start();
    await clock.advance(0);
    last().accept();
    await clock.advance(25_000 - 1);
    expect(last().actions('ping')).toHaveLength(0);
    await clock.advance(1);
    expect(last().actions('ping')).toHaveLength(1);
    last().push('pong', { server_time: 'now' });
    await clock.advance(25_000);
    expect(last().actions('ping')).toHaveLength(2);
    last().push('pong', { server_time: 'now' });
    // An idle connection answered every time: a ping every 25 s for 5 minutes, so the
    // sweeper (HEARTBEAT_TIMEOUT_SECONDS, default 60) never sees a silent one.
    for (let i = 3; i <= 14; i++) {
      await clock.advance(25_000);
      expect(last().actions('ping')).toHaveLength(i);
      last().push('pong', { server_time: 'now' });
    }
    expect(sockets).toHaveLength(1);
    // Two pings fit in the server's default timeout, so one lost ping does not close it.
    expect(DEFAULTS.heartbeatMs * 2).toBeLessThan(heartbeatTimeoutMs());
    // No answer to the next ping within 10 s: closed and replaced.
    await clock.advance(25_000);
    expect(last().actions('ping')).toHaveLength(15);
    await clock.advance(10_000 - 1);
    expect(sockets[0]!.closedWith).toBeUndefined();
    await clock.advance(1);
    expect(sockets[0]!.closedWith).toBe(4000);
    expect(states).toContain('reconnecting');
    await clock.advance(1000);
    expect(sockets).toHaveLength(2);
  });

  it('takes its heartbeat interval as an option, and a pong timeout longer than it still detects a dead connection', async () => {
    const { clock, sockets, conn, last } = setup({ heartbeatMs: 5_000, pongTimeoutMs: 12_000 });
    conn.start();
    await clock.advance(0);
    last().accept();
    await clock.advance(5_000);
    expect(last().actions('ping')).toHaveLength(1);
    // Unanswered pings at 5, 10 and 15 s: the wait runs from the first, not the latest.
    await clock.advance(12_000 - 1);
    expect(last().actions('ping')).toHaveLength(3);
    expect(sockets[0]!.closedWith).toBeUndefined();
    await clock.advance(1);
    expect(sockets[0]!.closedWith).toBe(4000);
  });

  it('rolls over before API Gateway’s 2-hour limit: the new connection opens before the old one closes', async () => {
    const { clock, sockets, conn, states } = setup();
    conn.start();
    await clock.advance(0);
    const first = sockets[0]!;
    first.autoPong = true;
    first.accept();
    const confirmedSend = conn.sendMessage({ room_id: 'r1', content: 'before', temp_id: 'a' });
    const unconfirmedSend = conn.sendMessage({ room_id: 'r1', content: 'lost', temp_id: 'b' });
    await clock.advance(110 * 60_000 - 1);
    expect(sockets).toHaveLength(1);
    await clock.advance(1);
    expect(sockets).toHaveLength(2);
    const second = sockets[1]!;
    second.autoPong = true;
    expect(first.closedWith).toBeUndefined();
    second.accept();
    // New frames go to the new connection; the old one still delivers its answers.
    void conn.sendMessage({ room_id: 'r1', content: 'after', temp_id: 'c' });
    expect(second.actions('send-message').map((f) => f.temp_id)).toEqual(['c']);
    first.push('message-confirmed', confirmation('a', 'r1#1'));
    await expect(confirmedSend).resolves.toMatchObject({ message_id: 'r1#1' });
    await clock.advance(5_000);
    expect(first.closedWith).toBe(1000);
    // What the old connection never confirmed is sent again, with its temp_id, on the new one.
    expect(second.actions('send-message').map((f) => f.temp_id)).toEqual(['c', 'b']);
    second.push('message-confirmed', confirmation('b', 'r1#2'));
    await expect(unconfirmedSend).resolves.toMatchObject({ message_id: 'r1#2' });
    expect(states).not.toContain('reconnecting');
  });

  it('resends unconfirmed sends with the same temp_id after a reconnect, and resolves each once', async () => {
    const { clock, conn, last } = setup();
    conn.start();
    await clock.advance(0);
    last().accept();
    const results: string[] = [];
    const sends = ['t1', 't2', 't3'].map((temp_id) =>
      conn.sendMessage({ room_id: 'r1', content: temp_id, temp_id }).then((c) => {
        results.push(`${c.temp_id}=${c.message_id}`);
      }),
    );
    last().push('message-confirmed', confirmation('t1', 'm1'));
    last().drop();
    // Sent while disconnected: kept, written once connected.
    void conn.sendMessage({ room_id: 'r1', content: 't4', temp_id: 't4' }).then((c) => {
      results.push(`${c.temp_id}=${c.message_id}`);
    });
    await clock.advance(250);
    last().accept();
    expect(
      last()
        .actions('send-message')
        .map((f) => [f.temp_id, f.content]),
    ).toEqual([
      ['t2', 't2'],
      ['t3', 't3'],
      ['t4', 't4'],
    ]);
    // t2 had been stored before the drop: the server confirms it again with the same id.
    for (const [t, m] of [
      ['t2', 'm2'],
      ['t2', 'm2'],
      ['t3', 'm3'],
      ['t4', 'm4'],
      ['t1', 'm1'],
    ] as const)
      last().push('message-confirmed', confirmation(t, m));
    await Promise.all(sends);
    await flush();
    expect(results).toEqual(['t1=m1', 't2=m2', 't3=m3', 't4=m4']);
    expect(conn.unconfirmed).toEqual([]);
  });

  it('rejects a refused send and does not resend it', async () => {
    const { clock, conn, last } = setup();
    conn.start();
    await clock.advance(0);
    last().accept();
    const send = conn.sendMessage({ room_id: 'r9', content: 'x', temp_id: 'bad' });
    last().push('error', {
      code: 'FORBIDDEN',
      message: 'not a member',
      action: 'send-message',
      temp_id: 'bad',
    });
    await expect(send).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(conn.unconfirmed).toEqual([]);
  });

  it('writes a send refused as RATE_LIMITED again a moment later, with the same temp_id', async () => {
    const { clock, conn, last } = setup();
    conn.start();
    await clock.advance(0);
    last().accept();
    const send = conn.sendMessage({ room_id: 'r1', content: 'x', temp_id: 'fast' });
    last().push('error', {
      code: 'RATE_LIMITED',
      message: 'Too many requests',
      action: 'send-message',
      temp_id: 'fast',
    });
    await clock.advance(999);
    expect(last().actions('send-message')).toHaveLength(1);
    await clock.advance(1);
    expect(
      last()
        .actions('send-message')
        .map((f) => f.temp_id),
    ).toEqual(['fast', 'fast']);
    last().push('message-confirmed', confirmation('fast', 'm1'));
    await expect(send).resolves.toMatchObject({ message_id: 'm1' });
  });

  describe("sends over HTTP (postMessage, createChatClient's default)", () => {
    const sent = (id: string) => ({
      ...message(id).message,
      attachments: [],
      delivered_to_count: 2,
      queued_for_count: 1,
    });
    type Post = { roomId: string; body: Record<string, unknown> };

    it("confirms from the answer, writes no send-message frame, and keeps a room's sends in order", async () => {
      const posts: Post[] = [];
      const answers: ((id: string) => void)[] = [];
      const { clock, conn, last } = setup({
        postMessage: (roomId, body) => {
          posts.push({ roomId, body });
          return new Promise((done) => answers.push((id) => done(sent(id))));
        },
      });
      conn.start();
      await clock.advance(0);
      last().accept();
      const first = conn.sendMessage({ room_id: 'r1', content: 'one', temp_id: 't1' });
      const second = conn.sendMessage({ room_id: 'r1', content: 'two', temp_id: 't2' });
      await clock.advance(0);
      // The second waits for the first's answer: the room keeps their order.
      expect(posts).toEqual([{ roomId: 'r1', body: { content: 'one', temp_id: 't1' } }]);
      answers[0]!('r1.1');
      await expect(first).resolves.toEqual({
        temp_id: 't1',
        message_id: 'r1.1',
        delivered_to_count: 2,
        queued_for_count: 1,
        timestamp: '2026-01-01T00:00:00.000Z',
      });
      await clock.advance(0);
      expect(posts.map((p) => p.body.temp_id)).toEqual(['t1', 't2']);
      answers[1]!('r1.2');
      await expect(second).resolves.toMatchObject({ message_id: 'r1.2' });
      expect(last().actions('send-message')).toEqual([]);
      expect(conn.unconfirmed).toEqual([]);
    });

    it('retries a network failure, a 5xx and a 429 with the same temp_id, and writes no frame for it after a reconnect', async () => {
      const temps: unknown[] = [];
      const failures: unknown[] = [
        new TypeError('fetch failed'),
        new ChatApiError(503, 'INTERNAL', 'unavailable'),
        new ChatApiError(429, 'RATE_LIMITED', 'slow down', 2),
      ];
      let online = false;
      const { clock, conn, last } = setup({
        postMessage: async (_room, body) => {
          temps.push(body.temp_id);
          if (!online) throw new TypeError('offline');
          const failure = failures.shift();
          if (failure) throw failure;
          return sent('r1.9');
        },
      });
      conn.start();
      await clock.advance(0);
      last().accept();
      const send = conn.sendMessage({ room_id: 'r1', content: 'x', temp_id: 'keep' });
      await clock.advance(0);
      // The socket drops and comes back while the send is still unanswered.
      last().drop();
      await clock.advance(5_000);
      last().accept();
      await clock.advance(0);
      expect(conn.unconfirmed).toEqual(['keep']);
      expect(last().actions('send-message')).toEqual([]);
      online = true;
      await clock.advance(120_000);
      await expect(send).resolves.toMatchObject({ message_id: 'r1.9' });
      expect(new Set(temps)).toEqual(new Set(['keep']));
      expect(temps.length).toBeGreaterThanOrEqual(5);
      expect(last().actions('send-message')).toEqual([]);
    });

    it('waits out a 429 for its Retry-After before trying again', async () => {
      let posts = 0;
      const { clock, conn } = setup({
        postMessage: async () => {
          posts++;
          if (posts === 1) throw new ChatApiError(429, 'RATE_LIMITED', 'slow down', 3);
          return sent('r1.1');
        },
      });
      const send = conn.sendMessage({ room_id: 'r1', content: 'x', temp_id: 't' });
      await clock.advance(2_999);
      expect(posts).toBe(1);
      await clock.advance(1);
      await expect(send).resolves.toMatchObject({ message_id: 'r1.1' });
    });

    it('rejects a refused send (4xx) without trying again', async () => {
      let posts = 0;
      const { clock, conn } = setup({
        postMessage: async () => {
          posts++;
          throw new ChatApiError(403, 'FORBIDDEN', 'not a member');
        },
      });
      const send = conn.sendMessage({ room_id: 'r9', content: 'x', temp_id: 'bad' });
      await expect(send).rejects.toMatchObject({ code: 'FORBIDDEN', action: 'send-message' });
      await clock.advance(60_000);
      expect(posts).toBe(1);
      expect(conn.unconfirmed).toEqual([]);
    });

    it('stops retrying once closed: the send is rejected as CLOSED', async () => {
      let posts = 0;
      const { clock, conn } = setup({
        postMessage: async () => {
          posts++;
          throw new TypeError('offline');
        },
      });
      const send = conn.sendMessage({ room_id: 'r1', content: 'x', temp_id: 't' });
      await clock.advance(0);
      conn.close();
      await expect(send).rejects.toMatchObject({ code: 'CLOSED' });
      await clock.advance(120_000);
      expect(posts).toBe(1);
    });
  });

  it('de-duplicates events by id, live or replayed by sync, and catches up from its cursor after a reconnect', async () => {
    const { clock, conn, last } = setup({ cursor: 'c1' });
    const got: string[] = [];
    conn.on('new-chat-message', (d) => got.push(d.message.id));
    const cursors: string[] = [];
    conn.on('cursor', (c) => cursors.push(c));
    conn.start();
    await clock.advance(0);
    last().accept();
    await flush();
    expect(last().actions('sync')).toEqual([{ action: 'sync', since: 'c1' }]);
    last().push('new-chat-message', message('m1'));
    last().push('new-chat-message', message('m1'));
    last().push('sync-result', {
      events: [
        { event: 'new-chat-message', data: message('m1') },
        { event: 'new-chat-message', data: message('m2') },
      ],
      next_since: 'c2',
      has_more: true,
    });
    await flush();
    expect(last().actions('sync').at(-1)).toEqual({ action: 'sync', since: 'c2' });
    last().push('sync-result', { events: [], next_since: 'c3', has_more: false });
    await flush();
    expect(conn.cursor).toBe('c3');
    last().drop();
    await clock.advance(250);
    last().accept();
    await flush();
    expect(last().actions('sync')).toEqual([{ action: 'sync', since: 'c3' }]);
    last().push('sync-result', {
      events: [
        { event: 'new-chat-message', data: message('m2') },
        { event: 'new-chat-message', data: message('m3') },
      ],
      next_since: 'c4',
      has_more: false,
    });
    last().push('new-chat-message', message('m3'));
    await flush();
    expect(got).toEqual(['m1', 'm2', 'm3']);
    expect(cursors).toEqual(['c2', 'c3', 'c4']);
  });

  it('tolerates a server without sync: takes no cursor on 404, and stops asking after an unknown-action error', async () => {
    const noCursor = setup({ firstCursor: async () => null });
    noCursor.conn.start();
    await noCursor.clock.advance(0);
    noCursor.last().accept();
    await flush();
    expect(noCursor.conn.cursor).toBeNull();
    expect(noCursor.last().actions('sync')).toEqual([]);

    const { clock, conn, last } = setup({ cursor: 'c1' });
    conn.start();
    await clock.advance(0);
    last().accept();
    await flush();
    last().push('error', {
      code: 'VALIDATION_ERROR',
      message: 'Unknown action: sync',
      action: 'sync',
    });
    await flush();
    last().drop();
    await clock.advance(250);
    last().accept();
    await flush();
    expect(last().actions('sync')).toEqual([]);
    // Typing before the server has it: the first frame is refused, later ones are not sent.
    conn.typing('r1', true);
    last().push('error', {
      code: 'VALIDATION_ERROR',
      message: 'Unknown action: typing',
      action: '$default',
    });
    conn.typing('r1', false);
    expect(last().actions('typing')).toHaveLength(1);
    // Everything else still works.
    const send = conn.sendMessage({ room_id: 'r1', content: 'hi', temp_id: 'x' });
    last().push('message-confirmed', confirmation('x', 'm9'));
    await expect(send).resolves.toMatchObject({ message_id: 'm9' });
  });
});

/** A `storage` like AsyncStorage: async get/set of strings, kept in a Map (what survives a restart). */
class MemoryStorage {
  items = new Map<string, string>();
  async getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  async setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe('RealtimeConnection failures (issue 25 item 2)', () => {
  it('gives up on a refused upgrade (401 named in the error): state and event unauthorized, no retries; start() with a fresh token connects', async () => {
    let token = 'expired';
    const { clock, conn, states, sockets, last } = setup({ token: () => token });
    const refusals: { code: string; action?: string | undefined }[] = [];
    conn.on('unauthorized', (e) => refusals.push({ code: e.code, action: e.action }));
    conn.start();
    await clock.advance(0);
    // ws: "Unexpected server response: 401", then a close without an open.
    last().onerror?.({ message: 'Unexpected server response: 401' });
    last().drop();
    await clock.advance(60_000);
    expect(sockets).toHaveLength(1);
    expect(conn.state).toBe('unauthorized');
    expect(states).toEqual(['connecting', 'unauthorized']);
    expect(refusals).toEqual([{ code: 'UNAUTHORIZED', action: '$connect' }]);
    // The app refreshes the token and starts again.
    token = 'fresh';
    conn.start();
    await clock.advance(0);
    expect(last().url).toContain('token=fresh');
    last().accept();
    expect(conn.state).toBe('open');
  });

  it('asks authCheck when a handshake fails without saying why (browsers, Node 22), and retries what it does not call a refusal', async () => {
    let refused = false;
    const checks: number[] = [];
    const { clock, conn, sockets, last } = setup({
      authCheck: async () => {
        checks.push(sockets.length);
        return refused ? 'UNAUTHORIZED' : null;
      },
    });
    const refusals: string[] = [];
    conn.on('unauthorized', (e) => refusals.push(e.code));
    conn.start();
    await clock.advance(0);
    last().drop(); // a network failure: the token is fine
    await clock.advance(250);
    expect(sockets).toHaveLength(2);
    expect(conn.state).toBe('reconnecting');
    refused = true;
    last().drop();
    await clock.advance(60_000);
    expect(sockets).toHaveLength(2);
    expect(checks).toEqual([1, 2]);
    expect(conn.state).toBe('unauthorized');
    expect(refusals).toEqual(['UNAUTHORIZED']);
    // A drop after the connection opened is not a refusal: no check, a reconnect.
    refused = false;
    conn.start();
    await clock.advance(0);
    last().accept();
    last().drop();
    await clock.advance(250);
    expect(checks).toEqual([1, 2]);
    expect(sockets).toHaveLength(4);
  });

  it('takes an error before the open as the end of the attempt (Node 22 fires no close after a refused upgrade)', async () => {
    const { clock, conn, sockets, last } = setup();
    conn.start();
    await clock.advance(0);
    last().onerror?.({ type: 'error', message: 'Received network error or non-101 status code.' });
    expect(conn.state).toBe('reconnecting');
    last().drop(); // a close that does follow changes nothing
    await clock.advance(250);
    expect(sockets).toHaveLength(2);
    last().accept();
    expect(conn.state).toBe('open');
  });

  it('throws at construction when there is no WebSocket, and takes a WebSocket class as it is', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new RealtimeConnection({ url: 'ws://x', token: () => 't' })).toThrow(
        /No WebSocket.*ws package/,
      );
    } finally {
      global.WebSocket = saved;
    }
    const made: FakeSocket[] = [];
    class Socket extends FakeSocket {
      constructor(url: string) {
        super(url);
        made.push(this);
      }
    }
    const conn = new RealtimeConnection({ url: 'ws://x', token: () => 't', webSocket: Socket });
    conn.start();
    return flush().then(async () => {
      await flush();
      expect(made.map((s) => s.url)).toEqual(['ws://x?token=t']);
    });
  });

  it('reports every other give-up as a failure event', async () => {
    // A socket that cannot be made (a bad URL): no retries, state failed.
    const bad = setup({
      webSocket: () => {
        throw new SyntaxError('Invalid URL');
      },
    });
    const failures: string[] = [];
    bad.conn.on('failure', (f) => failures.push(`${f.code}: ${f.message}`));
    bad.conn.start();
    await bad.clock.advance(60_000);
    expect(bad.conn.state).toBe('failed');
    expect(failures).toEqual([
      'CONNECT_FAILED: No WebSocket could be made: SyntaxError: Invalid URL',
    ]);

    // A token provider that throws: reported, and retried.
    let calls = 0;
    const tok = setup({
      token: async () => {
        if (++calls === 1) throw new Error('offline');
        return 'tok';
      },
    });
    const codes: string[] = [];
    tok.conn.on('failure', (f) => codes.push(f.code));
    tok.conn.start();
    await tok.clock.advance(1_000);
    expect(tok.sockets).toHaveLength(1);
    tok.last().accept();
    expect(tok.conn.state).toBe('open');

    // A sync with no answer, then one refused.
    const s = setup({ cursor: 'c1', cursorFollowMs: 0 });
    s.conn.on('failure', (f) => codes.push(f.code));
    s.conn.start();
    await s.clock.advance(0);
    s.last().accept();
    await s.clock.advance(10_000);
    s.last().drop();
    await s.clock.advance(250);
    s.last().accept();
    await flush();
    s.last().push('error', { code: 'INTERNAL_ERROR', message: 'boom', action: 'sync' });
    await flush();

    // Frames waiting for a connection beyond the outbox's room: the oldest is dropped.
    for (let i = 0; i <= DEFAULTS.outboxLimit; i++) s.conn.markSeen('r1', [`m${i}`]);
    s.last().drop();
    for (let i = 0; i <= DEFAULTS.outboxLimit; i++) s.conn.markSeen('r1', [`m${i}`]);
    expect(codes).toEqual(['TOKEN_FAILED', 'SYNC_FAILED', 'SYNC_FAILED', 'OUTBOX_FULL']);
  });
});

describe('RealtimeConnection storage (issue 25 item 3)', () => {
  it('a restarted app with the saved cursor and seen ids shows no message twice', async () => {
    const storage = new MemoryStorage();
    const shown: string[] = [];
    // First run: m1 and m2 arrive live; the cursor is still c1 when the app is killed.
    const first = setup({
      cursor: null,
      storage,
      storageKey: 'chat:u_bob',
      firstCursor: async () => 'c1',
    });
    first.conn.on('new-chat-message', (d) => shown.push(d.message.id));
    first.conn.start();
    await first.clock.advance(0);
    first.last().accept();
    await flush();
    first.last().push('new-chat-message', message('m1'));
    first.last().push('new-chat-message', message('m2'));
    await first.clock.advance(DEFAULTS.storageDelayMs);
    const saved = JSON.parse(storage.items.get('chat:u_bob')!);
    expect(saved).toEqual({ v: 1, cursor: 'c1', seen: ['m:m1', 'm:m2'] });
    // (killed: no close)

    // Second run, a new instance on the same storage: sync from c1 replays m1, m2 and brings m3.
    const second = setup({ storage, storageKey: 'chat:u_bob' });
    second.conn.on('new-chat-message', (d) => shown.push(d.message.id));
    second.conn.start();
    await second.clock.advance(0);
    second.last().accept();
    await flush();
    expect(second.last().actions('sync')).toEqual([{ action: 'sync', since: 'c1' }]);
    second.last().push('sync-result', {
      events: ['m1', 'm2', 'm3'].map((id) => ({ event: 'new-chat-message', data: message(id) })),
      next_since: 'c2',
      has_more: false,
    });
    second.last().push('new-chat-message', message('m3'));
    await flush();
    expect(shown).toEqual(['m1', 'm2', 'm3']);
    second.conn.close();
    await flush();
    expect(JSON.parse(storage.items.get('chat:u_bob')!)).toEqual({
      v: 1,
      cursor: 'c2',
      seen: ['m:m1', 'm:m2', 'm:m3'],
    });

    // Without the saved ids (a plain cursor), the replay would have shown m1 and m2 again.
    const bare = setup({ cursor: 'c1' });
    const again: string[] = [];
    bare.conn.on('new-chat-message', (d) => again.push(d.message.id));
    bare.conn.start();
    await bare.clock.advance(0);
    bare.last().accept();
    await flush();
    bare.last().push('sync-result', {
      events: ['m1', 'm2'].map((id) => ({ event: 'new-chat-message', data: message(id) })),
      next_since: 'c2',
      has_more: false,
    });
    await flush();
    expect(again).toEqual(['m1', 'm2']);
  });

  it('keeps only the latest storedSeen ids, and a cursor given by the app wins over the stored one', async () => {
    const storage = new MemoryStorage();
    const { clock, conn, last } = setup({
      cursor: 'c1',
      storage,
      storedSeen: 2,
      cursorFollowMs: 0,
    });
    conn.start();
    await clock.advance(0);
    last().accept();
    await flush();
    last().push('sync-result', {
      events: ['m1', 'm2', 'm3'].map((id) => ({ event: 'new-chat-message', data: message(id) })),
      next_since: 'c2',
      has_more: false,
    });
    await clock.advance(DEFAULTS.storageDelayMs);
    expect(JSON.parse(storage.items.get(DEFAULTS.storageKey)!)).toEqual({
      v: 1,
      cursor: 'c2',
      seen: ['m:m2', 'm:m3'],
    });
    const next = setup({ cursor: 'c9', storage });
    next.conn.start();
    await next.clock.advance(0);
    next.last().accept();
    await flush();
    expect(next.last().actions('sync')).toEqual([{ action: 'sync', since: 'c9' }]);
  });

  it('moves the cursor as sync pages and live events arrive, not only on reconnect', async () => {
    const storage = new MemoryStorage();
    const { clock, conn, last } = setup({ cursor: 'c1', storage });
    const cursors: string[] = [];
    conn.on('cursor', (c) => cursors.push(c));
    conn.start();
    await clock.advance(0);
    last().autoPong = true;
    last().accept();
    await flush();
    last().push('sync-result', { events: [], next_since: 'c2', has_more: true });
    await flush();
    expect(conn.cursor).toBe('c2'); // each page moves it
    last().push('sync-result', { events: [], next_since: 'c3', has_more: false });
    await flush();
    // A live message: a while later, a sync from c3 moves the cursor past it.
    last().push('new-chat-message', message('m1'));
    await clock.advance(DEFAULTS.cursorFollowMs - 1);
    expect(last().actions('sync')).toHaveLength(2);
    await clock.advance(1);
    expect(last().actions('sync').at(-1)).toEqual({ action: 'sync', since: 'c3' });
    last().push('sync-result', {
      events: [{ event: 'new-chat-message', data: message('m1') }],
      next_since: 'c4',
      has_more: false,
    });
    await clock.advance(DEFAULTS.storageDelayMs);
    expect(cursors).toEqual(['c2', 'c3', 'c4']);
    expect(JSON.parse(storage.items.get(DEFAULTS.storageKey)!).cursor).toBe('c4');
    // Quiet (pings only): no more syncs, on the same connection.
    await clock.advance(10 * DEFAULTS.cursorFollowMs);
    expect(last().actions('ping').length).toBeGreaterThan(5);
    expect(last().actions('sync')).toHaveLength(3);
  });

  it('reports storage that cannot be read or written, and carries on', async () => {
    const failures: string[] = [];
    const { clock, conn, last } = setup({
      cursor: 'c1',
      storage: {
        getItem: () => {
          throw new Error('locked');
        },
        setItem: async () => {
          throw new Error('full');
        },
      },
    });
    conn.on('failure', (f) => failures.push(f.message));
    conn.start();
    await clock.advance(0);
    last().accept();
    await flush();
    last().push('new-chat-message', message('m1'));
    await clock.advance(DEFAULTS.storageDelayMs);
    expect(conn.state).toBe('open');
    expect(failures).toEqual([
      'Could not read storage: Error: locked',
      'Could not write storage: Error: full',
    ]);
  });
});

describe('client package', () => {
  it('has a typed call for every route of functions/routes.ts', () => {
    for (const route of httpRoutes) {
      const op = route.handler
        .replace('http/', '')
        .replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
      expect(ROUTES[op as keyof typeof ROUTES], `${route.method} ${route.path}`).toEqual([
        route.method,
        route.path,
      ]);
    }
  });

  it('uses no Node-only API and imports nothing outside itself, not even types (the wire types are generated into it)', () => {
    const dir = resolve(import.meta.dirname, '../../client/src');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(resolve(dir, file), 'utf8');
      expect(source, file).not.toMatch(/from 'node:|require\(|\bprocess\.|\bBuffer\b/);
      for (const m of source.matchAll(/(?:from|import\()\s*'([^']+)'/g))
        expect(m[1], `${file}: ${m[1]}`).toMatch(/^\.\/[\w-]+\.ts$/);
    }
  });
});
