import { removeDevice } from '#domain/devices.ts';
import { responseRef } from '#domain/response-ref.ts';
import { deviceParams } from '#domain/schemas.ts';
import { httpRoute } from '#platform/http.ts';

/** DELETE /api/chat/devices/{device_id} */
export const handler = httpRoute(
  { params: deviceParams, response: responseRef('removedDevice') },
  async ({ caller, params }) => ({
    message: 'Device removed',
    data: await removeDevice(caller, params.device_id),
  }),
);
