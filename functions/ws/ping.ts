import { z } from 'zod';
import { sendToConnection } from '#domain/delivery.ts';
import { events } from '#domain/events.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction('ping', z.object({}).passthrough(), async ({ connectionId }) => {
  await sendToConnection(connectionId, events.pong());
});
