import { listAudit } from '#domain/moderation.ts';
import { responseRef } from '#domain/response-ref.ts';
import { listAuditQuery } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/moderation/audit: every moderator action, newest first. */
export const handler = httpRoute(
  { query: listAuditQuery, response: responseRef('auditList') },
  async ({ caller, query }) => ({ data: await listAudit(caller, query) }),
);
