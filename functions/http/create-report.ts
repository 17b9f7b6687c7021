import { createReport } from '#domain/reports.ts';
import { responseRef } from '#domain/response-ref.ts';
import { createReportBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/reports: report a message or a user (CONTRACT §9). */
export const handler = httpRoute(
  { body: createReportBody, response: responseRef('createdReport') },
  async ({ caller, body }) => ({
    status: 201,
    message: 'Report received',
    data: await createReport(caller, body),
  }),
);
