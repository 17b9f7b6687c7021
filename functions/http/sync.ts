import { responseRef } from '#domain/response-ref.ts';
import { syncQuery } from '#domain/schemas.ts';
import { sync } from '#domain/sync.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/sync?since=&limit= (the HTTP API, docs/openapi.json; docs/architecture.md "Sync"). */
export const handler = httpRoute(
  { query: syncQuery, response: responseRef('syncPage') },
  async ({ caller, query }) => ({ data: await sync(caller, query.since, query.limit) }),
);
