import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { applyTableChange } from '#domain/room-activity.ts';
import { decodeChanges } from '#store/stream-changes.ts';

const processor = new BatchProcessor(EventType.DynamoDBStreams);

async function onRecord(record: DynamoDBRecord): Promise<void> {
  for (const change of decodeChanges(record)) await applyTableChange(change);
}

/**
 * Table stream → members' activity, unread bookkeeping and background purges.
 * A failed record is reported alone (partial batch response) and retried.
 */
export const handler = async (event: DynamoDBStreamEvent, context: Context) =>
  processPartialResponse(event, onRecord, processor, { context, throwOnFullBatchFailure: false });
