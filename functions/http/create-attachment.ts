import { createUploadSlot } from '#domain/attachments.ts';
import { responseRef } from '#domain/response-ref.ts';
import { createAttachmentBody, roomParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/rooms/{room_id}/attachments: an upload slot (CONTRACT §8). */
export const handler = httpRoute(
  { params: roomParams, body: createAttachmentBody, response: responseRef('uploadSlot') },
  async ({ caller, params, body }) => ({
    status: 201,
    message: 'Upload slot created',
    data: await createUploadSlot(caller, params.room_id, body),
  }),
);
