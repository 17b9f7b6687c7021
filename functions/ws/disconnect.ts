import { disconnectClient } from '#domain/connections.ts';
import { OK, wsLifecycle } from '#platform/ws.ts';

/** Best effort on AWS: it may never arrive, so nothing depends on it alone. */
export const handler = wsLifecycle(async (event, caller) => {
  await disconnectClient(caller, event.requestContext.connectionId);
  return OK;
});
