import { getPublicKeys } from '#domain/keys.ts';
import { responseRef } from '#domain/response-ref.ts';
import { keyOwnerParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/encryption/keys/{user_id} */
export const handler = httpRoute(
  { params: keyOwnerParams, response: responseRef('publicKeys') },
  async ({ caller, params }) => ({
    data: await getPublicKeys(caller, params.user_id),
  }),
);
