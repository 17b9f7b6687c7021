/**
 * The chat backend's TypeScript client: `ChatApi` (typed HTTP calls for every
 * route) and `RealtimeConnection` (the WebSocket protocol with reconnects,
 * heartbeats, rollover, resends, de-duplication and sync). No runtime
 * dependencies and no Node-only APIs: browsers, React Native, Node 22, and
 * Node 20 with `ws` (`realtime: {webSocket: WebSocket}`).
 */
import { type ApiOptions, ChatApi, ChatApiError, type TokenProvider } from './http.ts';
import { RealtimeConnection, type RealtimeOptions } from './realtime.ts';

export * from './http.ts';
export * from './realtime.ts';
export type * from './wire.ts';

export interface ChatClientOptions {
  /** The HTTP API, e.g. `http://127.0.0.1:3000`. */
  httpUrl: string;
  /** The WebSocket API, e.g. `ws://127.0.0.1:3001`. */
  wsUrl: string;
  /** Called before each request and connection: return a fresh token when the old one nears expiry. */
  token: TokenProvider;
  fetch?: ApiOptions['fetch'];
  realtime?: Omit<RealtimeOptions, 'url' | 'token'>;
  /**
   * How `realtime.sendMessage` travels: `http` (default), one request whose
   * answer is the confirmation; `websocket`, a `send-message` frame and its
   * `message-confirmed` frame (on AWS a frame each way, $1 per million more).
   */
  sendOver?: 'http' | 'websocket';
}

/** Both halves wired together: the realtime connection takes its first sync cursor over HTTP. */
export function createChatClient(options: ChatClientOptions) {
  const api = new ChatApi({
    baseUrl: options.httpUrl,
    token: options.token,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const realtime = new RealtimeConnection({
    url: options.wsUrl,
    token: options.token,
    ...(options.sendOver === 'websocket'
      ? {}
      : { postMessage: (roomId, body) => api.sendMessage(roomId, body) }),
    firstCursor: async () => {
      try {
        return (await api.sync()).next_since;
      } catch (error) {
        // The server's sync may not have landed yet (404): live delivery still works.
        if (error instanceof ChatApiError) return null;
        throw error;
      }
    },
    // A refused upgrade says nothing in a browser: the same token over HTTP tells why.
    authCheck: async () => {
      try {
        await api.sync();
        return null;
      } catch (error) {
        if (error instanceof ChatApiError && (error.status === 401 || error.status === 403))
          return error.code;
        return null;
      }
    },
    ...options.realtime,
  });
  return { api, realtime };
}
