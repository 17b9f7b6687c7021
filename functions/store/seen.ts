import { batchGet, batchWrite, type Key } from './batch.ts';
import { roomPk } from './keys.ts';
import { sortableSeq } from './messages.ts';

/**
 * Seen receipts: pk ROOM#<room_id>, sk SEEN#<seq>#<user_id>, one per message a
 * user has seen. Writing the same receipt twice leaves one item; receipts expire
 * (TTL), so a busy room's receipts don't pile up forever.
 */
const SEEN_PREFIX = 'SEEN#';
const seenSortKey = (seq: number, userId: string) => `${SEEN_PREFIX}${sortableSeq(seq)}#${userId}`;

export const seenKey = (roomId: string, seq: number, userId: string): Key => ({
  pk: roomPk(roomId),
  sk: seenSortKey(seq, userId),
});

/** The sort keys of a room's receipts for seqs up to `seq`, whoever saw them (BETWEEN bounds). */
export const seenSortKeysUpTo = (seq: number) => ({
  from: SEEN_PREFIX,
  to: seenSortKey(seq, '\uffff'),
});

/** Which of `seqs` already have this user's receipt (one BatchGet per 100). */
export async function seenSeqs(
  roomId: string,
  seqs: readonly number[],
  userId: string,
): Promise<Set<number>> {
  if (seqs.length === 0) return new Set();
  const found = await batchGet(seqs.map((seq) => seenKey(roomId, seq, userId)));
  return new Set(found.map((item) => item.seq as number));
}

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
          ...seenKey(roomId, seq, userId),
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
