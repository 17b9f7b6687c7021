import { connectClient } from '#domain/presence.ts';
import { capConnections } from '#domain/rate-limits.ts';
import { headerValue } from '#platform/headers.ts';
import { OK, tokenExpiresAt, wsLifecycle } from '#platform/ws.ts';

/** Registers the connection. A token sent as a subprotocol needs the first protocol echoed back. */
export const handler = wsLifecycle(async (event, caller) => {
  await connectClient(caller, event.requestContext.connectionId, tokenExpiresAt(event));
  await capConnections(caller.userId, event.requestContext.connectionId);
  const protocol = headerValue(event.headers, 'sec-websocket-protocol')?.split(',')[0]?.trim();
  return protocol ? { ...OK, headers: { 'Sec-WebSocket-Protocol': protocol } } : OK;
});
