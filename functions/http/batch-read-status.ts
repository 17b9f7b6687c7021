import { markRoomsRead } from '#domain/read-status.ts';
import { responseRef } from '#domain/response-ref.ts';
import { batchReadBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/read-status: mark up to 100 rooms read in one call. */
export const handler = httpRoute(
  {
    body: batchReadBody,
    response: responseRef('batchReadStatus'),
    // One read marker written per room.
    cost: (body) => body.room_ids.length,
  },
  async ({ caller, body }) => ({
    data: await markRoomsRead(caller, body.room_ids),
  }),
);
