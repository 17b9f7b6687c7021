import { closeConnection } from '#platform/post-to-connection.ts';
import { getConnections } from '#store/connections.ts';
import { connectionGone } from './connection-lifecycle.ts';

/**
 * Closes these sockets of the user and removes each at once: a dead socket's
 * close answers 410 and brings no $disconnect.
 */
export async function closeConnections(userId: string, connectionIds: readonly string[]) {
  for (const id of connectionIds) {
    await closeConnection(id);
    await connectionGone(userId, id);
  }
}

/**
 * Closes every socket the user has open (a suspension, an erased account),
 * reading them consistently, after the caller's own write.
 */
export async function closeAllConnections(userId: string): Promise<number> {
  const live = (await getConnections([userId], Date.now(), { consistent: true })).get(userId) ?? [];
  await closeConnections(
    userId,
    live.map((c) => c.id),
  );
  return live.length;
}
