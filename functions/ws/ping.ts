import * as z from 'zod/mini';
import { sendToConnection } from '#domain/delivery.ts';
import { events } from '#domain/events.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction('ping', z.looseObject({}), async ({ connectionId }) => {
  await sendToConnection(connectionId, events.pong());
});
