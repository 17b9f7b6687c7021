import { registerDevice } from '#domain/devices.ts';
import { responseRef } from '#domain/response-ref.ts';
import { registerDeviceBody } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** POST /api/chat/devices: a push target for this user. */
export const handler = httpRoute(
  { body: registerDeviceBody, response: responseRef('device') },
  async ({ caller, body }) => ({
    status: 201,
    message: 'Device registered',
    data: await registerDevice(caller, body.platform, body.token),
  }),
);
