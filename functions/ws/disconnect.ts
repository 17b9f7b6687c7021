import { connectionGone } from '#domain/connection-lifecycle.ts';
import { OK, wsLifecycle } from '#platform/ws.ts';

/** Best effort on AWS: it may never arrive, so the sweeper also finds dead connections. */
export const handler = wsLifecycle(async (event, caller) => {
  await connectionGone(caller.userId, event.requestContext.connectionId);
  return OK;
});
