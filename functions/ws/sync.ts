import * as z from 'zod/mini';
import { flushPending } from '#domain/pending.ts';
import { wsAction } from '#platform/ws.ts';

/** Delivers whatever is still pending for this user, now, to this connection. */
export const handler = wsAction('sync', z.looseObject({}), async ({ caller, connectionId }) => {
  await flushPending(caller.userId, [connectionId]);
});
