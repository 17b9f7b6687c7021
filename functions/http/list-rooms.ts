import { responseRef } from '#domain/response-ref.ts';
import { listRooms } from '#domain/rooms.ts';
import { listRoomsQuery } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/rooms?archived=&limit=&cursor= */
export const handler = httpRoute(
  { query: listRoomsQuery, response: responseRef('roomPage') },
  async ({ caller, query }) => ({
    data: await listRooms(caller, query),
  }),
);
