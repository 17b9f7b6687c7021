import { suspendUser } from '#domain/moderation.ts';
import { responseRef } from '#domain/response-ref.ts';
import { suspensionBody, userParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/moderation/users/{user_id}/suspension: suspend until lifted or `until`. */
export const handler = httpRoute(
  { params: userParams, body: suspensionBody, response: responseRef('suspension') },
  async ({ caller, params, body }) => ({
    message: 'User suspended',
    data: await suspendUser(caller, params.user_id, body),
  }),
);
