import { closeConnection } from '#platform/post-to-connection.ts';
import { getConnections } from '#store/connections.ts';
import { connectionGone } from './connection-lifecycle.ts';

/** What follows a socket's close: by default its removal and the presence grace period. */
type Forget = (userId: string, connectionId: string) => Promise<unknown>;

/**
 * Closes these sockets of the user and removes each at once (`forget`): a dead
 * socket's close answers 410 and brings no $disconnect.
 */
export async function closeConnections(
  userId: string,
  connectionIds: readonly string[],
  forget: Forget = connectionGone,
) {
  await Promise.all(
    connectionIds.map(async (id) => {
      await closeConnection(id);
      await forget(userId, id);
    }),
  );
}

/**
 * Closes every socket the user has open (a suspension, an erased account),
 * reading them consistently, after the caller's own write.
 */
export async function closeAllConnections(
  userId: string,
  forget: Forget = connectionGone,
): Promise<number> {
  const live = (await getConnections([userId], Date.now(), { consistent: true })).get(userId) ?? [];
  await closeConnections(
    userId,
    live.map((c) => c.id),
    forget,
  );
  return live.length;
}
