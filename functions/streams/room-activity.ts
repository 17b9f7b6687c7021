import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { propagateRoomActivity } from '#domain/room-activity.ts';
import { decodeChange } from '#store/stream-changes.ts';

const processor = new BatchProcessor(EventType.DynamoDBStreams);

async function onRecord(record: DynamoDBRecord): Promise<void> {
  const change = decodeChange(record);
  if (change.kind === 'room-advanced') await propagateRoomActivity(change.room);
}

/** Table stream → members' room activity. Failed records are retried alone (partial batch response). */
export const handler = async (event: DynamoDBStreamEvent, context: Context) =>
  processPartialResponse(event, onRecord, processor, { context });
