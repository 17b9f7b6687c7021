import { getAllUnreadCounts, getRoomUnreadCount } from '#domain/read-status.ts';
import { responseRef } from '#domain/response-ref.ts';
import { unreadCountQuery } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/unread-count[?room_id=] */
export const handler = httpRoute(
  { query: unreadCountQuery, response: responseRef('unreadCounts') },
  async ({ caller, query }) => ({
    data: query.room_id
      ? await getRoomUnreadCount(caller, query.room_id)
      : await getAllUnreadCounts(caller),
  }),
);
