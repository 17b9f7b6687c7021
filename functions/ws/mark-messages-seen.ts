import { markSeenFrame } from '#domain/schemas.ts';
import { markMessagesSeen } from '#domain/seen.ts';
import { wsAction } from '#platform/ws.ts';

export const handler = wsAction(
  'mark-messages-seen',
  markSeenFrame,
  async ({ caller, body }) => {
    await markMessagesSeen(caller, body.room_id, body.message_ids);
  },
  // Up to one receipt written per id: the frame weighs what it may write.
  { cost: (body) => new Set(body.message_ids).size },
);
