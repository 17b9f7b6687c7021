import { connectionGone } from '#domain/connection-lifecycle.ts';
import { connectClient } from '#domain/presence.ts';
import { capConnections } from '#domain/rate-limits.ts';
import { headerValue } from '#platform/headers.ts';
import { requireNotSuspended } from '#platform/suspension.ts';
import { OK, tokenExpiresAt, wsLifecycle } from '#platform/ws.ts';

/**
 * Registers the connection. A token sent as a subprotocol needs the first protocol
 * echoed back. A suspended user is refused (403): checked before registering,
 * and read again consistently once the connection is stored, because a moderator
 * suspends first and then closes the sockets stored: whichever runs second sees
 * the other, so no socket opened during a suspension survives it.
 */
export const handler = wsLifecycle(async (event, caller) => {
  const connectionId = event.requestContext.connectionId;
  await requireNotSuspended(caller.userId);
  await connectClient(caller, connectionId, tokenExpiresAt(event));
  const [suspended] = await Promise.allSettled([
    requireNotSuspended(caller.userId, { fresh: true }),
    capConnections(caller.userId, connectionId),
  ]);
  if (suspended.status === 'rejected') {
    await connectionGone(caller.userId, connectionId);
    throw suspended.reason;
  }
  const protocol = headerValue(event.headers, 'sec-websocket-protocol')?.split(',')[0]?.trim();
  return protocol ? { ...OK, headers: { 'Sec-WebSocket-Protocol': protocol } } : OK;
});
