import { uploadPublicKey } from '#domain/keys.ts';
import { responseRef } from '#domain/response-ref.ts';
import { uploadKeyBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/encryption/keys */
export const handler = httpRoute(
  { body: uploadKeyBody, response: responseRef('uploadedKey') },
  async ({ caller, body }) => ({
    message: 'Public key uploaded',
    data: await uploadPublicKey(caller, body),
  }),
);
