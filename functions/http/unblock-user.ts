import { unblockUser } from '#domain/blocks.ts';
import { responseRef } from '#domain/response-ref.ts';
import { userParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/blocks/{user_id}: lift a block (CONTRACT §9); idempotent. */
export const handler = httpRoute(
  { params: userParams, response: responseRef('unblocked') },
  async ({ caller, params }) => ({
    message: 'User unblocked',
    data: await unblockUser(caller, params.user_id),
  }),
);
