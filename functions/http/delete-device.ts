import { removeDevice } from '#domain/devices.ts';
import * as responses from '#domain/responses.ts';
import { deviceParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/devices/{device_id} */
export const handler = httpRoute(
  { params: deviceParams, response: responses.removedDevice },
  async ({ caller, params }) => ({
    message: 'Device removed',
    data: await removeDevice(caller, params.device_id),
  }),
);
