import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { MessageRecord, RoomRecord } from '#model';
import { messageFromItem } from './messages.ts';
import { roomFromItem } from './rooms.ts';

/** The table changes the domain reacts to, decoded from a stream record. */
export type TableChange =
  /** A message was written (not a tombstone): the outbox delivers it to whoever the send could not. */
  | { kind: 'message-stored'; message: MessageRecord }
  /** A message was deleted, or a failed send left a tombstone: unread counts skip its seq. */
  | { kind: 'message-deleted'; message: MessageRecord }
  /** The room head handed out a number: its message (or tombstone) should follow. */
  | { kind: 'sequence-taken'; roomId: string; seq: number }
  | { kind: 'room-cleared'; room: RoomRecord }
  | { kind: 'room-removed'; roomId: string }
  /** A send claimed an uploaded file: its bytes must now be kept. */
  | { kind: 'file-sent'; roomId: string; attachmentId: string }
  /** A message that carried files stopped carrying them (deleted for everyone, or removed). */
  | { kind: 'files-released'; message: MessageRecord };

function image(value: unknown): Record<string, unknown> | undefined {
  return value ? unmarshall(value as Record<string, AttributeValue>) : undefined;
}

/** Only the store knows which items a record is about (entity tags and keys). */
export function decodeChanges(record: DynamoDBRecord): TableChange[] {
  const after = image(record.dynamodb?.NewImage);
  const before = image(record.dynamodb?.OldImage);
  const entity = (after ?? before)?.entity;
  if (entity === 'room') {
    if (!after) return [{ kind: 'room-removed', roomId: before!.id as string }];
    const room = roomFromItem(after);
    const previous = before ? roomFromItem(before) : undefined;
    return room.cleared_seq > (previous?.cleared_seq ?? 0) ? [{ kind: 'room-cleared', room }] : [];
  }
  if (entity === 'room-head') {
    const seq = Number(after?.seq ?? 0);
    return after && seq > Number(before?.seq ?? 0)
      ? [{ kind: 'sequence-taken', roomId: after.room_id as string, seq }]
      : [];
  }
  if (entity === 'attachment') {
    return after?.state === 'sent' && before?.state !== 'sent'
      ? [{ kind: 'file-sent', roomId: after.room_id as string, attachmentId: after.id as string }]
      : [];
  }
  if (entity !== 'message') return [];
  const carried = before ? messageFromItem(before) : undefined;
  // A purge removes the item; a delete for everyone drops its attachments, and so
  // does an account erase blanking its sender's messages (attachments removed).
  const released =
    carried &&
    carried.attachments.length > 0 &&
    (!after || after.is_deleted === true || messageFromItem(after).attachments.length === 0)
      ? [{ kind: 'files-released' as const, message: carried }]
      : [];
  if (!after) return released;
  const message = messageFromItem(after);
  if (!before && !message.is_deleted) return [{ kind: 'message-stored', message }];
  if (message.is_deleted && before?.is_deleted !== true)
    return [{ kind: 'message-deleted', message }, ...released];
  return [];
}
