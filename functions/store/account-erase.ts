import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { ddb, tableName } from '#platform/clients.ts';
import { batchWrite, type Key } from './batch.ts';
import { blockMirrorKey } from './blocks.ts';
import { transactIf, updateIf } from './conditional.ts';
import { ROOM_PREFIX, roomPk, userPk } from './keys.ts';
import { memberKey } from './members.ts';
import { MESSAGE_PREFIX, messageKey } from './messages.ts';
import { queryPage } from './query.ts';
import { roomHeadKey } from './room-head.ts';
import { directPairKey, roomKey } from './rooms.ts';

/**
 * Erasing an account (CONTRACT §9, DELETE /api/chat/me): the keys it touches.
 * Everything is a Query of a known partition (never a Scan), and every write
 * is idempotent, so a redelivered job repeats them harmlessly.
 */

/** The rooms the user has a member item in (hidden ones too), read consistently. */
export async function memberRoomIds(userId: string): Promise<string[]> {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await queryPage(
      {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': userPk(userId), ':prefix': ROOM_PREFIX },
        ProjectionExpression: 'sk',
        ConsistentRead: true,
      },
      start,
    );
    ids.push(...page.items.map((i) => (i.sk as string).slice(ROOM_PREFIX.length)));
    start = page.next;
  } while (start);
  return ids;
}

/** A member item whose room no longer lists the user (or is gone): nothing else to undo. */
export async function deleteMemberItem(userId: string, roomId: string): Promise<void> {
  await ddb().send(new DeleteCommand({ TableName: tableName(), Key: memberKey(userId, roomId) }));
}

/**
 * The erased user leaves their direct room, which stays for the other member:
 * in one transaction the room item loses them from `members` (and any
 * `blocked_by`: their blocks go with the account), their member item goes, and
 * so does the pair's uniqueness lock, so a later account with the same id
 * starts a new conversation rather than finding this one. False when the room
 * no longer lists them (a redelivery after the transaction).
 */
export async function detachFromDirectRoom(
  userId: string,
  roomId: string,
  otherId: string | undefined,
  at: string,
): Promise<boolean> {
  const table = tableName();
  return transactIf([
    {
      Update: {
        TableName: table,
        Key: roomKey(roomId),
        UpdateExpression: 'REMOVE members.#user, blocked_by SET updated_at = :now, erased = :yes',
        ConditionExpression: 'attribute_exists(members.#user)',
        ExpressionAttributeNames: { '#user': userId },
        ExpressionAttributeValues: { ':now': at, ':yes': true },
      },
    },
    { Delete: { TableName: table, Key: memberKey(userId, roomId) } },
    ...(otherId
      ? [
          {
            Delete: {
              TableName: table,
              Key: directPairKey(userId, otherId),
              // Only this room's lock: a pair that has moved on keeps its own.
              ConditionExpression: 'attribute_not_exists(pk) OR room_id = :room',
              ExpressionAttributeValues: { ':room': roomId },
            },
          },
        ]
      : []),
  ]);
}

/**
 * One page of blanking the user's messages in a room: content emptied,
 * ciphertext, file, media and attachments dropped; id, seq, times and the
 * deleted flag untouched, so order and unread counts hold. A blanked message
 * carries `blanked_at` and is not read again. Returns where to continue
 * (undefined: the room is done).
 */
export async function blankMessagesPage(
  roomId: string,
  senderId: string,
  at: string,
  start?: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const page = await queryPage(
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
      FilterExpression: 'sender_id = :me AND attribute_not_exists(blanked_at)',
      ExpressionAttributeValues: {
        ':pk': roomPk(roomId),
        ':msg': MESSAGE_PREFIX,
        ':me': senderId,
      },
      ProjectionExpression: 'seq',
      Limit: 500,
    },
    start,
  );
  await Promise.all(
    page.items.map((item) =>
      updateIf({
        Key: messageKey(roomId, Number(item.seq)),
        UpdateExpression:
          'SET content = :empty, blanked_at = :at REMOVE encrypted_content, file_url, media, attachments',
        ConditionExpression: 'sender_id = :me',
        ExpressionAttributeValues: { ':empty': '', ':at': at, ':me': senderId },
      }),
    ),
  );
  return page.next;
}

/** The room list's preview of the latest message, when it is the user's: emptied too. */
export async function blankHeadSummary(roomId: string, senderId: string): Promise<void> {
  await updateIf({
    Key: roomHeadKey(roomId),
    UpdateExpression: 'SET last_message.content = :empty',
    ConditionExpression: 'last_message.sender_id = :me',
    ExpressionAttributeValues: { ':empty': '', ':me': senderId },
  });
}

/**
 * The sort-key prefixes of what an account owns in its own partition and the
 * erase deletes: connections, presence, keys and verifications, devices and
 * push state, blocks either way, the event log, pending copies, send receipts,
 * settings. Anything else there stays: a suspension (`SUSPENSION`) outlives the
 * account, as moderation records do (their own partitions). Member items
 * (`ROOM#`) are not here: leaving a room is the domain's transaction, never a
 * bare delete.
 */
const ACCOUNT_ITEMS = [
  'CONNS',
  'PRESENCE',
  'KEY#',
  'KEYDEVICES',
  'VERIFIED#',
  'DEVICE#',
  'PUSH',
  'BLOCK#',
  'BLOCKEDBY#',
  'EVT#',
  'PENDING#',
  'FLUSHING',
  'TEMP#',
  'SETTINGS',
];
const owned = (sk: string) =>
  ACCOUNT_ITEMS.some((p) => (p.endsWith('#') ? sk.startsWith(p) : sk === p));

/**
 * Deletes one page (at most 500 keys) of what the account owns in its
 * partition, and the other side of each of its blocks (`BLOCKEDBY#` of those it
 * blocked, `BLOCK#` of those who blocked it). Returns where to continue.
 */
export async function deleteAccountItemsPage(
  userId: string,
  start?: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const page = await queryPage(
    {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': userPk(userId) },
      ProjectionExpression: 'pk, sk',
      Limit: 500,
      ConsistentRead: true,
    },
    start,
  );
  const doomed: Key[] = [];
  for (const { pk, sk } of page.items as Key[]) {
    if (!owned(sk)) continue;
    doomed.push({ pk, sk });
    const mirror = blockMirrorKey(userId, sk);
    if (mirror) doomed.push(mirror);
  }
  if (doomed.length) await batchWrite(doomed.map((Key) => ({ DeleteRequest: { Key } })));
  return page.next;
}
