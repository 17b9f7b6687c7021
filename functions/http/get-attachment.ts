import { attachmentDownload } from '#domain/attachment-downloads.ts';
import { responseRef } from '#domain/response-ref.ts';
import { attachmentParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/attachments/{attachment_id}: a short-lived download URL (CONTRACT §8). */
export const handler = httpRoute(
  { params: attachmentParams, response: responseRef('attachmentDownload') },
  async ({ caller, params }) => ({
    data: await attachmentDownload(caller, params.attachment_id),
  }),
);
