import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { MessageRecord, RoomRecord } from '#domain/model.ts';
import { messageFromItem } from './messages.ts';
import { roomFromItem } from './rooms.ts';

/** The table changes the domain reacts to, decoded from a stream record. */
export type TableChange =
  | { kind: 'room-advanced'; room: RoomRecord }
  | { kind: 'room-cleared'; room: RoomRecord }
  | { kind: 'room-removed'; roomId: string }
  | { kind: 'message-deleted'; message: MessageRecord };

function image(value: unknown): Record<string, unknown> | undefined {
  return value ? unmarshall(value as Record<string, AttributeValue>) : undefined;
}

/** Only the store knows which items a record is about (entity tags and keys). One record may carry several changes. */
export function decodeChanges(record: DynamoDBRecord): TableChange[] {
  const after = image(record.dynamodb?.NewImage);
  const before = image(record.dynamodb?.OldImage);
  const entity = (after ?? before)?.entity;
  const changes: TableChange[] = [];
  if (entity === 'room') {
    if (!after) return [{ kind: 'room-removed', roomId: before!.id as string }];
    const room = roomFromItem(after);
    const previous = before ? roomFromItem(before) : undefined;
    if (room.seq > (previous?.seq ?? 0)) changes.push({ kind: 'room-advanced', room });
    if (room.cleared_seq > (previous?.cleared_seq ?? 0))
      changes.push({ kind: 'room-cleared', room });
  } else if (entity === 'message' && after?.is_deleted === true && before?.is_deleted !== true) {
    changes.push({ kind: 'message-deleted', message: messageFromItem(after) });
  }
  return changes;
}
