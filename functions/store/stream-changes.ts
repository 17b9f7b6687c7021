import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { RoomRecord } from '#domain/model.ts';
import { roomFromItem } from './rooms.ts';

/** A table change the domain reacts to, decoded from a stream record. */
export type TableChange = { kind: 'room-advanced'; room: RoomRecord } | { kind: 'other' };

function image(value: unknown): Record<string, unknown> | undefined {
  return value ? unmarshall(value as Record<string, AttributeValue>) : undefined;
}

/** Only the store knows which items a record is about (entity tags and keys). */
export function decodeChange(record: DynamoDBRecord): TableChange {
  const after = image(record.dynamodb?.NewImage);
  const before = image(record.dynamodb?.OldImage);
  if (after?.entity === 'room' && Number(after.seq ?? 0) > Number(before?.seq ?? 0)) {
    return { kind: 'room-advanced', room: roomFromItem(after) };
  }
  return { kind: 'other' };
}
