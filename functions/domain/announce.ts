import { logger } from '#platform/observability.ts';
import type { ServerEvent } from '#platform/post-to-connection.ts';
import { fanOut } from './delivery.ts';

/**
 * Tells users' live connections of a change that is already stored (members
 * added or removed). A failed post is logged, never turned into a failed
 * request: the change happened, and a device that missed the event catches up
 * through sync or by reloading the room.
 */
export async function announce(userIds: readonly string[], frame: ServerEvent): Promise<void> {
  await fanOut(userIds, frame).then(
    () => undefined,
    (error: unknown) =>
      logger.warn('Event not delivered', { error: error as Error, event: frame.event }),
  );
}
