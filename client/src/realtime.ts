import { ChatApiError, type TokenProvider } from './http.ts';
import type {
  ClientAction,
  ClientActions,
  MessageConfirmed,
  Operations,
  SentMessage,
  ServerEventName,
  ServerEvents,
  ServerFrame,
  SyncPage,
} from './wire.ts';

/**
 * The realtime connection (docs/asyncapi.json), built for API Gateway's limits and a
 * phone's network:
 * - a heartbeat `ping` every 25 seconds (`heartbeatMs`): the server closes a
 *   connection that sent no heartbeat for 60 s (HEARTBEAT_TIMEOUT_SECONDS), and
 *   API Gateway one idle for 10 minutes. A ping not answered within
 *   `pongTimeoutMs` (by any frame) means the connection is dead: it is closed and
 *   replaced;
 * - a new connection opened at 110 minutes, before API Gateway's 2-hour limit
 *   closes the old one, which is closed only once the new one is open;
 * - reconnection with exponential backoff and full jitter;
 * - sends are kept until confirmed and resent with the same `temp_id` after a
 *   reconnect (the server confirms a repeated `temp_id` with the same message);
 *   with `postMessage` (createChatClient's default) they go over HTTP instead:
 *   one request whose answer is the confirmation, retried with the same
 *   `temp_id` until answered, one at a time per room so a room keeps their order;
 * - events are de-duplicated by id (the server delivers at least once);
 * - after a reconnect it catches up with `sync` from its last cursor, and a
 *   while after live events it syncs again so the cursor keeps up with them;
 * - with `storage`, the cursor and the latest event ids survive a restart;
 * - a refused upgrade (401/403) stops retrying: state `unauthorized`, event
 *   `unauthorized`; every other give-up is a `failure` event.
 * Only `WebSocket`, timers and `JSON` are used: it runs in browsers, React
 * Native, Node 22 and Node 20 with `ws` alike.
 */

/**
 * A handler whose parameter is checked both ways (as a method's is), so the
 * WebSocket of a browser, React Native, Node 22 or `ws`, each with its own
 * event types, is a `SocketLike` as it is.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API used here (browsers, React Native, Node 22's global, `ws`). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onclose: Handler<{ code?: number; reason?: string }> | null;
  onerror: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
}
/** Makes a socket: `(url, protocols) => new WebSocket(url, protocols)`. */
export type SocketFactory = (url: string, protocols?: string[]) => SocketLike;
/** A WebSocket class itself: the global one, or `WebSocket` from the `ws` package. */
export type SocketConstructor = new (url: string, protocols?: string | string[]) => SocketLike;

/**
 * Where the connection keeps its cursor and the ids it has shown, so an app
 * restarted from a saved cursor shows nothing twice. `localStorage` and React
 * Native's AsyncStorage fit as they are; any get/set of strings, sync or
 * async, will do.
 */
export interface StorageLike {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
}

/** What is kept in `storage`, as JSON under `storageKey`. */
export interface StoredState {
  v: 1;
  cursor: string | null;
  /** The latest event ids shown (de-duplication keys), oldest first. */
  seen: string[];
}

/** Something given up on; the connection carries on unless the state says otherwise. */
export interface RealtimeFailure {
  /**
   * - `CONNECT_FAILED`: a socket could not be made (a bad URL, a WebSocket that
   *   throws); state `failed`, no more retries until `start()`.
   * - `TOKEN_FAILED`: the token provider threw; retried with backoff.
   * - `SYNC_FAILED`: a catch-up had no answer or an error; tried again on the
   *   next reconnect or live event.
   * - `OUTBOX_FULL`: a frame waiting for the connection (mark seen, archive)
   *   was dropped, the oldest, to make room.
   * - `STORAGE_FAILED`: `storage` could not be read or written.
   */
  code: 'CONNECT_FAILED' | 'TOKEN_FAILED' | 'SYNC_FAILED' | 'OUTBOX_FULL' | 'STORAGE_FAILED';
  message: string;
  /** The error thrown, when there was one. */
  cause?: unknown;
}

/** Timers, injectable so tests can drive time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const DEFAULTS = {
  /**
   * A `ping` this often (the requirements' 25 s). The server's sweeper closes a
   * connection that sent none for 60 s (HEARTBEAT_TIMEOUT_SECONDS, two missed
   * pings plus slack); API Gateway closes one idle for 10 minutes.
   */
  heartbeatMs: 25_000,
  /** A ping with no frame back within this long: the connection is dead. */
  pongTimeoutMs: 10_000,
  /** API Gateway closes every connection at 2 hours. */
  rolloverMs: 110 * 60_000,
  /** How long the old connection stays open after the new one is up. */
  rolloverGraceMs: 5_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
  syncTimeoutMs: 10_000,
  /** A send refused as RATE_LIMITED is written again after about this long. */
  rateLimitRetryMs: 1_000,
  /** How many event ids are remembered for de-duplication. */
  dedupeWindow: 5_000,
  /** Frames other than sends kept while disconnected (mark seen, archive). */
  outboxLimit: 100,
  /** A sync this long after a live event moves the cursor past it. */
  cursorFollowMs: 30_000,
  /** How many event ids `storage` keeps (those after the saved cursor are what matter). */
  storedSeen: 1_000,
  /** Writes to `storage` are gathered for this long. */
  storageDelayMs: 500,
  storageKey: 'chat-client:realtime',
} as const;

/**
 * - `unauthorized`: the server refused the upgrade (401/403, or `authCheck`
 *   says so); nothing is retried. Refresh the token and call `start()`.
 * - `failed`: no socket could be made (see the `failure` event); `start()` tries again.
 */
export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'open'
  | 'reconnecting'
  | 'unauthorized'
  | 'failed'
  | 'closed';

export interface RealtimeOptions {
  /** e.g. `ws://127.0.0.1:3001` or the stack's `WebSocketUrl`. */
  url: string;
  token: TokenProvider;
  /**
   * The WebSocket class (e.g. `WebSocket` from `ws` on Node 20) or a factory;
   * defaults to the global WebSocket. Without either, the constructor throws.
   */
  webSocket?: SocketFactory | SocketConstructor;
  /** `query` (default): `?token=`; `protocol`: `Sec-WebSocket-Protocol: chat, <token>`. */
  tokenIn?: 'query' | 'protocol';
  /**
   * The cursor to catch up from (a persisted `cursor`); without one, the one in
   * `storage`, else `firstCursor` is asked.
   */
  cursor?: string | null;
  /** Keeps the cursor and the latest event ids across restarts (see `StorageLike`). */
  storage?: StorageLike;
  /** The key in `storage`; give each signed-in user their own. */
  storageKey?: string;
  /** How many event ids `storage` keeps (default 1,000). */
  storedSeen?: number;
  storageDelayMs?: number;
  /** How long after a live event a sync moves the cursor past it (default 30 s; 0: never). */
  cursorFollowMs?: number;
  /**
   * Asked when a connection closes before it opened: browsers and Node's own
   * WebSocket do not say why. Answers the refusal (`UNAUTHORIZED`, `SUSPENDED`,
   * …) when the token is refused, else null. createChatClient asks the HTTP API.
   */
  authCheck?: () => Promise<string | null>;
  /** Takes a first sync cursor (e.g. `api.sync()`); null when the server has no sync. */
  firstCursor?: () => Promise<string | null>;
  /** How often to ping (default 25 s); keep it well under the server's 60 s heartbeat timeout. */
  heartbeatMs?: number;
  /** How long a ping may go unanswered before the connection counts as dead (default 10 s). */
  pongTimeoutMs?: number;
  rolloverMs?: number;
  rolloverGraceMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  syncTimeoutMs?: number;
  rateLimitRetryMs?: number;
  dedupeWindow?: number;
  clock?: Clock;
  /** In [0, 1); for the backoff jitter. */
  random?: () => number;
  /**
   * Sends messages over HTTP (e.g. `ChatApi.sendMessage`): one request whose
   * answer is the confirmation, where the WebSocket takes a frame each way (on
   * AWS, $1 per million messages less). Without it, `send-message` frames.
   */
  postMessage?: (roomId: string, body: Operations['sendMessage']['body']) => Promise<SentMessage>;
}

type Listener<T> = (data: T) => void;
type SendInput = Omit<ClientActions['send-message'], 'temp_id'> & { temp_id?: string };

interface PendingSend {
  frame: ClientActions['send-message'] & { action: 'send-message'; temp_id: string };
  /** Generation of the socket it was last written to (0: not written yet). */
  sentOn: number;
  resolve: (confirmed: MessageConfirmed) => void;
  reject: (error: RealtimeError) => void;
}

interface Live {
  socket: SocketLike;
  generation: number;
  /** It opened (a close before that is a refused or failed handshake). */
  opened?: boolean;
  /** The status a refused upgrade's error named, when it did (`ws`, React Native). */
  refused?: number | undefined;
  heartbeat?: unknown;
  pongWait?: unknown;
  rollover?: unknown;
}

/**
 * A refused frame (`error` event), a send abandoned by `close()`, or (the
 * `unauthorized` event) a refused upgrade: `code` `UNAUTHORIZED` (401),
 * `FORBIDDEN` (403) or what `authCheck` answered, e.g. `SUSPENDED`.
 */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';
  constructor(
    readonly code: string,
    message: string,
    readonly action?: string,
  ) {
    super(message);
  }
}

const OPEN = 1;

/** A WebSocket class rather than a factory: its instances have `send` (arrow functions have no prototype). */
function isConstructor(f: SocketFactory | SocketConstructor): f is SocketConstructor {
  const proto = (f as { prototype?: { send?: unknown } }).prototype;
  return typeof proto?.send === 'function';
}

/** A status in a refused upgrade's error (`ws`: "Unexpected server response: 401"; React Native alike). */
function refusedStatus(event: unknown): number | undefined {
  const message = (event as { message?: unknown } | null)?.message;
  const text =
    typeof message === 'string'
      ? message
      : String((event as { error?: unknown } | null)?.error ?? '');
  const status = /\b(401|403)\b/.exec(text)?.[1];
  return status ? Number(status) : undefined;
}

function newTempId(random: () => number): string {
  const uuid = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID;
  if (uuid) return uuid.call((globalThis as { crypto?: unknown }).crypto);
  return `t${Date.now().toString(36)}${Math.floor(random() * 2 ** 52).toString(36)}`;
}

/** The id under which a repeated event is recognized; undefined: state events, applied as they come. */
function eventKey(frame: ServerFrame): string | undefined {
  switch (frame.event) {
    case 'new-chat-message':
      return `m:${frame.data.message.id}`;
    case 'message-deleted':
      return `d:${frame.data.message_id}`;
    case 'room-deleted':
      return `rd:${frame.data.room_id}:${frame.data.deleted_at}`;
    case 'room-messages-cleared':
      return `rc:${frame.data.room_id}:${frame.data.cleared_at}`;
    case 'encryption-key-changed':
      return `k:${frame.data.user_id}:${frame.data.device_id}:${frame.data.key_id}`;
    default:
      return undefined;
  }
}

export class RealtimeConnection {
  private readonly o: Required<
    Omit<
      RealtimeOptions,
      'cursor' | 'firstCursor' | 'webSocket' | 'tokenIn' | 'postMessage' | 'storage' | 'authCheck'
    >
  > & {
    firstCursor: RealtimeOptions['firstCursor'] | undefined;
    postMessage: RealtimeOptions['postMessage'] | undefined;
    storage: StorageLike | undefined;
    authCheck: RealtimeOptions['authCheck'] | undefined;
  };
  /** Per room, the HTTP send in flight (the next waits for it: a room keeps its order). */
  private readonly posting = new Map<string, Promise<unknown>>();
  private readonly socketFactory: SocketFactory;
  private readonly listeners = new Map<string, Set<Listener<never>>>();
  private readonly pending = new Map<string, PendingSend>();
  private readonly seen = new Set<string>();
  private outbox: string[] = [];
  private live: Live | undefined;
  private next: Live | undefined;
  private generation = 0;
  private attempt = 0;
  private reconnectTimer: unknown;
  private retryTimer: unknown;
  private syncing = false;
  private syncWaiter: ((frame: ServerFrame | undefined) => void) | undefined;
  private _state: ConnectionState = 'idle';
  private _cursor: string | null;
  /** Actions the server answered with "Unknown action" (an older server may lack sync or typing). */
  private readonly unsupported = new Set<string>();
  /** The app gave a cursor: it wins over the stored one. */
  private readonly cursorGiven: boolean;
  /** `storage` read (once, on the first start). */
  private loaded: Promise<void> | undefined;
  private saveTimer: unknown;
  private writing: Promise<void> = Promise.resolve();
  private followTimer: unknown;

  constructor(options: RealtimeOptions) {
    this.o = {
      url: options.url,
      token: options.token,
      firstCursor: options.firstCursor,
      heartbeatMs: options.heartbeatMs ?? DEFAULTS.heartbeatMs,
      pongTimeoutMs: options.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs,
      rolloverMs: options.rolloverMs ?? DEFAULTS.rolloverMs,
      rolloverGraceMs: options.rolloverGraceMs ?? DEFAULTS.rolloverGraceMs,
      backoffInitialMs: options.backoffInitialMs ?? DEFAULTS.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? DEFAULTS.backoffMaxMs,
      syncTimeoutMs: options.syncTimeoutMs ?? DEFAULTS.syncTimeoutMs,
      rateLimitRetryMs: options.rateLimitRetryMs ?? DEFAULTS.rateLimitRetryMs,
      dedupeWindow: options.dedupeWindow ?? DEFAULTS.dedupeWindow,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      postMessage: options.postMessage,
      storage: options.storage,
      storageKey: options.storageKey ?? DEFAULTS.storageKey,
      storedSeen: options.storedSeen ?? DEFAULTS.storedSeen,
      storageDelayMs: options.storageDelayMs ?? DEFAULTS.storageDelayMs,
      cursorFollowMs: options.cursorFollowMs ?? DEFAULTS.cursorFollowMs,
      authCheck: options.authCheck,
    };
    this._cursor = options.cursor ?? null;
    this.cursorGiven = options.cursor != null;
    const tokenIn = options.tokenIn ?? 'query';
    const given =
      options.webSocket ??
      (globalThis as { WebSocket?: SocketConstructor | undefined }).WebSocket ??
      undefined;
    if (!given) {
      throw new Error(
        'No WebSocket: this runtime has no global WebSocket (Node 20), so pass `webSocket`, e.g. `WebSocket` from the ws package',
      );
    }
    this.socketFactory = isConstructor(given)
      ? (url, protocols) => new given(url, protocols)
      : given;
    this.connectUrl = async () => {
      const token = await this.o.token();
      if (tokenIn === 'protocol') return { url: this.o.url, protocols: ['chat', token] };
      const sep = this.o.url.includes('?') ? '&' : '?';
      return { url: `${this.o.url}${sep}token=${encodeURIComponent(token)}` };
    };
  }

  private readonly connectUrl: () => Promise<{ url: string; protocols?: string[] }>;

  get state(): ConnectionState {
    return this._state;
  }
  /** The sync cursor; persist it to catch up after the app restarts. */
  get cursor(): string | null {
    return this._cursor;
  }
  /** Sends not confirmed yet, oldest first. */
  get unconfirmed(): string[] {
    return [...this.pending.keys()];
  }

  /** Subscribes to a server event; returns the unsubscribe function. */
  on<K extends ServerEventName>(event: K, listener: Listener<ServerEvents[K]>): () => void;
  on(event: 'state', listener: Listener<ConnectionState>): () => void;
  /** The server's sync cursor expired (410): reload rooms over HTTP. */
  on(event: 'resync-required', listener: Listener<undefined>): () => void;
  on(event: 'cursor', listener: Listener<string>): () => void;
  /**
   * The server refused the upgrade (401/403): state `unauthorized`, no more
   * retries. Refresh the token, then call `start()`.
   */
  on(event: 'unauthorized', listener: Listener<RealtimeError>): () => void;
  /** Something given up on (see `RealtimeFailure`). */
  on(event: 'failure', listener: Listener<RealtimeFailure>): () => void;
  on(event: string, listener: Listener<never>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit(event: string, data: unknown) {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<unknown>)(data);
      } catch (error) {
        // A listener's bug must not break the connection.
        console.error('[chat-client] listener failed', error);
      }
    }
  }

  private setState(state: ConnectionState) {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private fail(code: RealtimeFailure['code'], message: string, cause?: unknown) {
    this.emit('failure', {
      code,
      message,
      ...(cause === undefined ? {} : { cause }),
    } satisfies RealtimeFailure);
  }

  /**
   * Opens the connection (and keeps it open until `close()`). Also after
   * `unauthorized` (with a fresh token) or `failed`: it tries again.
   */
  start(): void {
    if (this._state !== 'idle' && this._state !== 'unauthorized' && this._state !== 'failed')
      return;
    this.attempt = 0;
    this.setState('connecting');
    void this.open(false);
  }

  /** Closes for good; unconfirmed sends are rejected. `storage` gets the last state. */
  close(): void {
    this.setState('closed');
    this.o.clock.clearTimeout(this.reconnectTimer);
    this.o.clock.clearTimeout(this.retryTimer);
    this.o.clock.clearTimeout(this.followTimer);
    void this.flush();
    for (const conn of [this.live, this.next]) if (conn) this.retire(conn, 1000);
    this.live = undefined;
    this.next = undefined;
    for (const [tempId, p] of this.pending) {
      this.pending.delete(tempId);
      p.reject(new RealtimeError('CLOSED', 'The connection was closed', 'send-message'));
    }
    this.syncWaiter?.(undefined);
  }

  /**
   * Sends a message; resolves with its confirmation. Kept until confirmed:
   * written now if connected, and again (same `temp_id`) after any reconnect.
   */
  sendMessage(input: SendInput): Promise<MessageConfirmed> {
    const tempId = input.temp_id ?? newTempId(this.o.random);
    const existing = this.pending.get(tempId);
    if (existing) return new Promise((resolve, reject) => this.chain(existing, resolve, reject));
    return new Promise((resolve, reject) => {
      const p: PendingSend = {
        frame: { ...input, action: 'send-message', temp_id: tempId },
        sentOn: 0,
        resolve,
        reject,
      };
      this.pending.set(tempId, p);
      if (this.o.postMessage) this.post(p);
      else if (this.live && this.live.socket.readyState === OPEN) this.write(this.live, p);
    });
  }

  /** Queues an HTTP send behind the room's previous one. */
  private post(p: PendingSend) {
    const room = p.frame.room_id;
    const before = this.posting.get(room) ?? Promise.resolve();
    const mine = before.then(() => this.postUntilAnswered(p));
    this.posting.set(room, mine);
    void mine.finally(() => {
      if (this.posting.get(room) === mine) this.posting.delete(room);
    });
  }

  /**
   * Posts a send until the server answers it: a network failure, a 5xx or a
   * 429 is retried with the same temp_id (the server stores it once); any other
   * refusal rejects it, as an `error` frame would.
   */
  private async postUntilAnswered(p: PendingSend): Promise<void> {
    const { action: _action, room_id: roomId, ...body } = p.frame;
    for (let attempt = 0; this.pending.get(body.temp_id) === p; attempt++) {
      try {
        const sent = await this.o.postMessage!(roomId, body);
        if (this.pending.get(body.temp_id) !== p) return;
        this.pending.delete(body.temp_id);
        p.resolve({
          temp_id: body.temp_id,
          message_id: sent.id,
          delivered_to_count: sent.delivered_to_count,
          queued_for_count: sent.queued_for_count,
          timestamp: sent.created_at,
        });
        return;
      } catch (error) {
        const refused = error instanceof ChatApiError && error.status < 500 && error.status !== 429;
        if (refused) {
          this.pending.delete(body.temp_id);
          p.reject(new RealtimeError(error.code, error.message, 'send-message'));
          return;
        }
        const wait =
          error instanceof ChatApiError && error.status === 429
            ? (error.retryAfterSeconds ?? this.o.rateLimitRetryMs / 1000) * 1000
            : this.reconnectDelay(attempt);
        await new Promise((done) => this.o.clock.setTimeout(() => done(undefined), wait));
      }
    }
  }

  private chain(
    p: PendingSend,
    resolve: (c: MessageConfirmed) => void,
    reject: (e: RealtimeError) => void,
  ) {
    const [r1, j1] = [p.resolve, p.reject];
    p.resolve = (c) => {
      r1(c);
      resolve(c);
    };
    p.reject = (e) => {
      j1(e);
      reject(e);
    };
  }

  /** Any other client frame. Typing is dropped while disconnected; the rest wait in a small outbox. */
  send<K extends Exclude<ClientAction, 'send-message'>>(action: K, frame: ClientActions[K]): void {
    if (this.unsupported.has(action)) return;
    const text = JSON.stringify({ ...frame, action });
    if (this.live && this.live.socket.readyState === OPEN) {
      this.live.socket.send(text);
    } else if (action !== 'typing' && action !== 'ping') {
      this.outbox.push(text);
      if (this.outbox.length > DEFAULTS.outboxLimit) {
        const dropped = this.outbox.shift();
        this.fail('OUTBOX_FULL', `Dropped a frame waiting for the connection: ${dropped}`);
      }
    }
  }

  markSeen(roomId: string, messageIds: string[]) {
    this.send('mark-messages-seen', { room_id: roomId, message_ids: messageIds });
  }
  typing(roomId: string, isTyping: boolean) {
    this.send('typing', { room_id: roomId, is_typing: isTyping });
  }
  archive(roomId: string, isArchived: boolean) {
    this.send('room-archive', { room_id: roomId, is_archived: isArchived });
  }

  private write(conn: Live, p: PendingSend) {
    p.sentOn = conn.generation;
    conn.socket.send(JSON.stringify(p.frame));
  }

  /** Opens a socket: the live one, or (rollover) its successor. */
  private async open(rollover: boolean): Promise<void> {
    const generation = ++this.generation;
    let target: { url: string; protocols?: string[] };
    try {
      await this.ready();
      target = await this.connectUrl();
    } catch (error) {
      if (this._state === 'closed') return;
      this.fail('TOKEN_FAILED', `The token provider failed: ${String(error)}`, error);
      if (!rollover || !this.live) this.scheduleReconnect();
      return;
    }
    if (this._state === 'closed') return;
    let socket: SocketLike;
    try {
      socket = this.socketFactory(target.url, target.protocols);
    } catch (error) {
      // A bad URL or a WebSocket that cannot work here: retrying would not help.
      this.fail('CONNECT_FAILED', `No WebSocket could be made: ${String(error)}`, error);
      if (!rollover || !this.live) {
        this.o.clock.clearTimeout(this.reconnectTimer);
        this.setState('failed');
      }
      return;
    }
    const conn: Live = { socket, generation };
    if (rollover) this.next = conn;
    else this.live = conn;
    socket.onmessage = (event) => this.onFrame(conn, event.data);
    // A refused upgrade's error may name its status. A close follows, except after a failed
    // handshake on Node 22's WebSocket: before the open, an error ends the attempt.
    socket.onerror = (event) => {
      conn.refused ??= refusedStatus(event);
      if (!conn.opened) this.onClose(conn);
    };
    socket.onclose = () => this.onClose(conn);
    socket.onopen = () => this.onOpen(conn, rollover);
  }

  private onOpen(conn: Live, rollover: boolean) {
    if (this._state === 'closed') return this.retire(conn, 1000);
    conn.opened = true;
    this.attempt = 0;
    this.armHeartbeat(conn);
    conn.rollover = this.o.clock.setTimeout(() => this.rollover(conn), this.o.rolloverMs);
    const old = rollover ? this.live : undefined;
    this.live = conn;
    if (rollover) this.next = undefined;
    if (old) {
      // The successor is up and live; the old connection drains its answers, then closes.
      this.stopTimers(old);
      this.o.clock.setTimeout(() => {
        this.retire(old, 1000);
        this.resendFrom(old.generation);
      }, this.o.rolloverGraceMs);
      this.flushOutbox(conn);
      return;
    }
    // A fresh connection (or a successor that outlived its predecessor): recover everything.
    this.setState('open');
    this.resendFrom(Number.POSITIVE_INFINITY);
    this.flushOutbox(conn);
    void this.catchUp(conn);
  }

  /** Resends, in order, every unconfirmed send last written to a socket of `generation` or older. */
  private resendFrom(generation: number) {
    const conn = this.live;
    // HTTP sends retry on their own (postUntilAnswered).
    if (!conn || conn.socket.readyState !== OPEN || this.o.postMessage) return;
    for (const p of this.pending.values()) if (p.sentOn <= generation) this.write(conn, p);
  }

  private flushOutbox(conn: Live) {
    const frames = this.outbox;
    this.outbox = [];
    for (const text of frames) conn.socket.send(text);
  }

  private rollover(conn: Live) {
    if (this.live !== conn || this._state === 'closed') return;
    void this.open(true);
  }

  /**
   * A ping every `heartbeatMs` whatever else flows: API Gateway's idle timer and
   * the server's own heartbeat bookkeeping count the client's frames.
   */
  private armHeartbeat(conn: Live) {
    this.o.clock.clearTimeout(conn.heartbeat);
    conn.heartbeat = this.o.clock.setTimeout(() => {
      if (conn.socket.readyState !== OPEN) return;
      conn.socket.send(JSON.stringify({ action: 'ping' }));
      this.armHeartbeat(conn);
      // No frame back in time: the connection is dead even if the socket does not know yet.
      // The wait runs from the first unanswered ping: a later ping does not restart it, so a
      // `pongTimeoutMs` longer than `heartbeatMs` still detects a dead connection.
      if (conn.pongWait !== undefined) return;
      conn.pongWait = this.o.clock.setTimeout(() => {
        this.retire(conn, 4000);
        this.onClose(conn);
      }, this.o.pongTimeoutMs);
    }, this.o.heartbeatMs);
  }

  private stopTimers(conn: Live) {
    this.o.clock.clearTimeout(conn.heartbeat);
    this.o.clock.clearTimeout(conn.pongWait);
    conn.pongWait = undefined;
    this.o.clock.clearTimeout(conn.rollover);
  }

  private retire(conn: Live, code: number) {
    this.stopTimers(conn);
    conn.socket.onclose = null;
    conn.socket.onmessage = null;
    conn.socket.onopen = null;
    try {
      conn.socket.close(code);
    } catch {
      // already closed
    }
  }

  private onClose(conn: Live) {
    this.stopTimers(conn);
    if (this.next === conn) {
      this.next = undefined;
      // A failed rollover: try again in a minute while the live connection lasts.
      const live = this.live;
      if (!live) this.scheduleReconnect();
      else live.rollover = this.o.clock.setTimeout(() => this.rollover(live), 60_000);
      return;
    }
    if (this.live !== conn || this._state === 'closed') return;
    this.live = undefined;
    this.syncWaiter?.(undefined);
    this.o.clock.clearTimeout(this.followTimer);
    this.followTimer = undefined;
    // A successor on its way takes over when it opens.
    if (this.next) this.setState('reconnecting');
    else if (!conn.opened) void this.afterRefusal(conn);
    else this.scheduleReconnect();
  }

  /**
   * A connection closed before it opened: a refused token stops the retries
   * (state and event `unauthorized`), anything else is retried. The status
   * comes from the socket's error when it names one, else from `authCheck`.
   */
  private async afterRefusal(conn: Live) {
    let code: string | null =
      conn.refused === 401 ? 'UNAUTHORIZED' : conn.refused === 403 ? 'FORBIDDEN' : null;
    if (!code && this.o.authCheck) code = await this.o.authCheck().catch(() => null);
    if (this._state === 'closed' || this.live || this.generation !== conn.generation) return;
    if (!code) return this.scheduleReconnect();
    this.o.clock.clearTimeout(this.reconnectTimer);
    this.setState('unauthorized');
    this.emit(
      'unauthorized',
      new RealtimeError(
        code,
        `The server refused the connection (${code}): refresh the token and call start()`,
        '$connect',
      ),
    );
  }

  private scheduleRetry() {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.o.clock.setTimeout(
      () => {
        this.retryTimer = undefined;
        this.resendFrom(0);
      },
      this.o.rateLimitRetryMs * (0.5 + this.o.random()),
    );
  }

  /** Exponential backoff with full jitter: a uniform delay in [0, min(max, initial·2^n)). */
  reconnectDelay(attempt: number): number {
    const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** attempt);
    return Math.floor(this.o.random() * ceiling);
  }

  private scheduleReconnect() {
    if (this._state === 'closed') return;
    this.setState('reconnecting');
    const delay = this.reconnectDelay(this.attempt++);
    this.o.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.o.clock.setTimeout(() => void this.open(false), delay);
  }

  private onFrame(conn: Live, raw: unknown) {
    if (typeof raw !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
      return;
    }
    if (!frame || typeof frame.event !== 'string') return;
    // Any frame proves the connection alive.
    this.o.clock.clearTimeout(conn.pongWait);
    conn.pongWait = undefined;
    this.dispatch(frame, true);
  }

  /** `live`: pushed now, not replayed by a sync page. */
  private dispatch(frame: ServerFrame, live: boolean) {
    switch (frame.event) {
      case 'message-confirmed': {
        const tempId = frame.data.temp_id;
        const p = tempId ? this.pending.get(tempId) : undefined;
        if (!p || !tempId) return; // a repeated confirmation
        this.pending.delete(tempId);
        p.resolve(frame.data);
        break;
      }
      case 'sync-result':
        this.syncWaiter?.(frame);
        return;
      case 'error': {
        const { temp_id: tempId, action } = frame.data;
        const p = tempId && action === 'send-message' ? this.pending.get(tempId) : undefined;
        if (p && frame.data.code === 'RATE_LIMITED') {
          // Over the per-user rate: kept, and written again in a moment.
          p.sentOn = 0;
          this.scheduleRetry();
        } else if (p && tempId) {
          this.pending.delete(tempId);
          p.reject(new RealtimeError(frame.data.code, frame.data.message, action));
        }
        // An action this server does not have (an older deployment): not sent again.
        const unknown = /^Unknown action: (\S+)/.exec(frame.data.message)?.[1];
        if (frame.data.code === 'VALIDATION_ERROR' && unknown) this.unsupported.add(unknown);
        if (this.syncing && (action === 'sync' || unknown === 'sync')) this.syncWaiter?.(frame);
        break;
      }
      default: {
        const key = eventKey(frame);
        if (key) {
          if (this.seen.has(key)) return;
          this.remember(key);
          this.persist();
          if (live) this.follow();
        }
      }
    }
    this.emit(frame.event, frame.data);
  }

  /**
   * After a (re)connect: pages through `sync` from the cursor, feeding every
   * event through the same de-duplication as live ones. Without a cursor it
   * takes a first one. A server without sync (404, unknown action, no answer)
   * is tolerated: live delivery and the server's offline queue still work.
   */
  private async catchUp(conn: Live) {
    if (this.syncing || this.unsupported.has('sync')) return;
    this.syncing = true;
    try {
      if (this._cursor === null) return await this.takeFirstCursor();
      for (let page = 0; page < 1000; page++) {
        if (this.live !== conn || conn.socket.readyState !== OPEN) return;
        const answer = await this.request(conn, this._cursor);
        if (!answer) {
          // No answer in time (or the connection went): tried again after the next reconnect.
          if (this.live === conn)
            this.fail('SYNC_FAILED', `No sync-result within ${this.o.syncTimeoutMs} ms`);
          return;
        }
        if (answer.event === 'error') {
          if (answer.data.code === 'CURSOR_EXPIRED') {
            this.setCursor(null);
            this.emit('resync-required', undefined);
            await this.takeFirstCursor();
          } else if (!this.unsupported.has('sync')) {
            this.fail('SYNC_FAILED', `sync refused: ${answer.data.code} ${answer.data.message}`);
          }
          return;
        }
        if (answer.event !== 'sync-result') return;
        const result: SyncPage = answer.data;
        for (const event of result.events) this.dispatch(event as ServerFrame, false);
        this.setCursor(result.next_since);
        if (!result.has_more) return;
      }
    } finally {
      this.syncing = false;
    }
  }

  private async takeFirstCursor() {
    try {
      const first = await this.o.firstCursor?.();
      if (first) this.setCursor(first);
    } catch (error) {
      this.fail('SYNC_FAILED', `No first sync cursor: ${String(error)}`, error);
    }
  }

  private setCursor(cursor: string | null) {
    this._cursor = cursor;
    if (cursor !== null) this.emit('cursor', cursor);
    this.persist();
  }

  private remember(key: string) {
    this.seen.add(key);
    if (this.seen.size > this.o.dedupeWindow)
      this.seen.delete(this.seen.values().next().value as string);
  }

  /**
   * A while after a live event, a sync from the cursor: it moves the cursor
   * past what was shown live (whose replays de-duplication drops), so a
   * restart does not start from long ago.
   */
  private follow() {
    if (this.followTimer !== undefined || this.o.cursorFollowMs <= 0 || this._cursor === null)
      return;
    this.followTimer = this.o.clock.setTimeout(() => {
      this.followTimer = undefined;
      const conn = this.live;
      if (conn && this._state === 'open' && conn.socket.readyState === OPEN)
        void this.catchUp(conn);
    }, this.o.cursorFollowMs);
  }

  /** Reads `storage` once, before the first connection. */
  private ready(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load() {
    const storage = this.o.storage;
    if (!storage) return;
    try {
      const text = await storage.getItem(this.o.storageKey);
      const stored = text ? (JSON.parse(text) as Partial<StoredState>) : undefined;
      if (stored?.v !== 1) return;
      if (!this.cursorGiven && typeof stored.cursor === 'string') this._cursor = stored.cursor;
      const before = [...this.seen];
      this.seen.clear();
      for (const key of [...(Array.isArray(stored.seen) ? stored.seen : []), ...before])
        if (typeof key === 'string') this.remember(key);
    } catch (error) {
      this.fail('STORAGE_FAILED', `Could not read storage: ${String(error)}`, error);
    }
  }

  private persist() {
    if (!this.o.storage || this.saveTimer !== undefined) return;
    this.saveTimer = this.o.clock.setTimeout(() => {
      this.saveTimer = undefined;
      void this.flush();
    }, this.o.storageDelayMs);
  }

  /**
   * Writes the cursor and the latest event ids to `storage` now (writes are
   * otherwise gathered for `storageDelayMs`): e.g. when the app goes to the
   * background. `close()` does it too.
   */
  async flush(): Promise<void> {
    const storage = this.o.storage;
    if (!storage || !this.loaded) return;
    this.o.clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.loaded;
    const value: StoredState = {
      v: 1,
      cursor: this._cursor,
      seen: [...this.seen].slice(-this.o.storedSeen),
    };
    const write = this.writing.then(() =>
      storage.setItem(this.o.storageKey, JSON.stringify(value)),
    );
    this.writing = write.catch((error: unknown) =>
      this.fail('STORAGE_FAILED', `Could not write storage: ${String(error)}`, error),
    );
    await this.writing;
  }

  private request(conn: Live, since: string): Promise<ServerFrame | undefined> {
    return new Promise((resolve) => {
      const timer = this.o.clock.setTimeout(() => finish(undefined), this.o.syncTimeoutMs);
      const finish = (frame: ServerFrame | undefined) => {
        this.o.clock.clearTimeout(timer);
        this.syncWaiter = undefined;
        resolve(frame);
      };
      this.syncWaiter = finish;
      conn.socket.send(JSON.stringify({ action: 'sync', since }));
    });
  }
}
