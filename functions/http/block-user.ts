import { blockUser } from '#domain/blocks.ts';
import { responseRef } from '#domain/response-ref.ts';
import { userParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/blocks/{user_id}: block a user (CONTRACT §9); idempotent. */
export const handler = httpRoute(
  { params: userParams, response: responseRef('blockEntry') },
  async ({ caller, params }) => ({
    message: 'User blocked',
    data: await blockUser(caller, params.user_id),
  }),
);
