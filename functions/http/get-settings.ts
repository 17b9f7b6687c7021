import { responseRef } from '#domain/response-ref.ts';
import { getMySettings } from '#domain/settings.ts';
import { httpRoute } from '#platform/http.ts';

/** GET /api/chat/me/settings */
export const handler = httpRoute({ response: responseRef('userSettings') }, async ({ caller }) => ({
  data: await getMySettings(caller),
}));
