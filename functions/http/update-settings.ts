import { responseRef } from '#domain/response-ref.ts';
import { updateSettingsBody } from '#domain/schemas.ts';
import { updateMySettings } from '#domain/settings.ts';
import { httpRoute } from '#platform/http.ts';

/** PUT /api/chat/me/settings */
export const handler = httpRoute(
  { body: updateSettingsBody, response: responseRef('userSettings') },
  async ({ caller, body }) => ({
    message: 'Settings updated',
    data: await updateMySettings(caller, body),
  }),
);
