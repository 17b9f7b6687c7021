import { sendToConnection } from '#domain/delivery.ts';
import { flushPending } from '#domain/offline-delivery.ts';
import { syncFrame } from '#domain/schemas.ts';
import { sync } from '#domain/sync.ts';
import { wsAction } from '#platform/ws.ts';

/**
 * `sync`: without `since`, whatever is still pending for this user goes to this
 * connection now; with it, the connection gets `sync-result`, a page as
 * GET /api/chat/sync gives it.
 */
export const handler = wsAction('sync', syncFrame, async ({ caller, connectionId, body }) => {
  if (body.since === undefined) {
    await flushPending(caller.userId, [connectionId]);
    return;
  }
  const page = await sync(caller, body.since, body.limit);
  await sendToConnection(connectionId, { event: 'sync-result', data: page });
});
