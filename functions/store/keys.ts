/**
 * DynamoDB key parts shared by several entity modules: the partitions that hold
 * more than one entity. Each entity module builds its own full keys (and its
 * sort keys) on top of these; nothing else writes these prefixes.
 * (The encryption-key directory is encryption-keys.ts.)
 */
const USER_PREFIX = 'USER#';
/** Every `roomPk` begins with it (a user's member items are found by it). */
export const ROOM_PREFIX = 'ROOM#';

/** `USER#<user_id>`: a user's partition (members, receipts, keys, pending, presence, push, connections, events). */
export const userPk = (userId: string) => `${USER_PREFIX}${userId}`;

/** The user id of a `userPk` partition key. */
export const userIdOfPk = (pk: string) => pk.slice(USER_PREFIX.length);

/**
 * `ROOM#<room_id>`: a room's partition (room, head, messages, seen receipts,
 * events); also the sort key of a member item in its user's partition.
 */
export const roomPk = (roomId: string) => `${ROOM_PREFIX}${roomId}`;
