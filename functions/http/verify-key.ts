import { verifyPublicKey } from '#domain/keys.ts';
import { responseRef } from '#domain/response-ref.ts';
import { verifyKeyBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/encryption/verify */
export const handler = httpRoute(
  { body: verifyKeyBody, response: responseRef('verifiedKey') },
  async ({ caller, body }) => ({
    message: 'Key verified successfully',
    data: await verifyPublicKey(caller, body),
  }),
);
