import { resolveReport } from '#domain/moderation.ts';
import { responseRef } from '#domain/response-ref.ts';
import { reportParams, resolveReportBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/moderation/reports/{report_id}/resolve: dismiss, remove the message or suspend its sender. */
export const handler = httpRoute(
  { params: reportParams, body: resolveReportBody, response: responseRef('resolvedReport') },
  async ({ caller, params, body }) => ({
    message: 'Report resolved',
    data: await resolveReport(caller, params.report_id, body),
  }),
);
