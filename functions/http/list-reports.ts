import { listReports } from '#domain/moderation.ts';
import { responseRef } from '#domain/response-ref.ts';
import { listReportsQuery } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/moderation/reports: moderators' queue, oldest first (CONTRACT §9). */
export const handler = httpRoute(
  { query: listReportsQuery, response: responseRef('reportList') },
  async ({ caller, query }) => ({ data: await listReports(caller, query) }),
);
