import { batchWrite } from './batch.ts';
import { messageSortKey } from './messages.ts';

/**
 * Seen receipts: pk ROOM#<room_id>, sk SEEN#<seq>#<user_id>, one per message a
 * user has seen. Writing the same receipt twice leaves one item; receipts expire
 * (TTL), so a busy room's receipts don't pile up forever.
 */
export async function recordSeen(
  roomId: string,
  seqs: readonly number[],
  userId: string,
  at: string,
  ttlSeconds: number,
) {
  const ttl = Math.floor(Date.parse(at) / 1000) + ttlSeconds;
  await batchWrite(
    seqs.map((seq) => ({
      PutRequest: {
        Item: {
          pk: `ROOM#${roomId}`,
          sk: `SEEN#${messageSortKey(seq).slice('MSG#'.length)}#${userId}`,
          entity: 'seen',
          room_id: roomId,
          seq,
          user_id: userId,
          seen_at: at,
          ttl,
        },
      },
    })),
  );
}
