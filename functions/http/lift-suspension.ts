import { liftSuspension } from '#domain/moderation.ts';
import { responseRef } from '#domain/response-ref.ts';
import { userParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/moderation/users/{user_id}/suspension: lift it (idempotent). */
export const handler = httpRoute(
  { params: userParams, response: responseRef('suspensionLifted') },
  async ({ caller, params }) => ({
    message: 'Suspension lifted',
    data: await liftSuspension(caller, params.user_id),
  }),
);
