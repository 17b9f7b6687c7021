import * as z from 'zod/mini';
import { sendToConnection } from '#domain/delivery.ts';
import { events } from '#domain/events.ts';
import { heartbeat } from '#domain/presence.ts';
import { wsAction } from '#platform/ws.ts';

/** Heartbeat: answers pong and refreshes the connection's last_seen. */
export const handler = wsAction('ping', z.looseObject({}), async ({ connectionId }) => {
  await Promise.all([sendToConnection(connectionId, events.pong()), heartbeat(connectionId)]);
});
