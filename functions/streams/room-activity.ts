import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { applyTableChange } from '#domain/room-activity.ts';
import { decodeChanges, type TableChange } from '#store/stream-changes.ts';

const processor = new BatchProcessor(EventType.DynamoDBStreams);

/**
 * Within one batch, a room that advanced several times needs only its newest
 * state applied: member updates are maxima, so the newest record covers the
 * older ones. Under load this turns one member write per message into one per
 * batch. If the newest record fails it is retried, and still covers the rest.
 */
function newestRoomRecords(records: readonly DynamoDBRecord[]): Map<DynamoDBRecord, TableChange[]> {
  const decoded = new Map(records.map((r) => [r, decodeChanges(r)]));
  const newest = new Map<string, { record: DynamoDBRecord; seq: number }>();
  for (const [record, changes] of decoded) {
    for (const change of changes) {
      if (change.kind !== 'room-advanced') continue;
      const current = newest.get(change.room.id);
      if (!current || change.room.seq > current.seq)
        newest.set(change.room.id, { record, seq: change.room.seq });
    }
  }
  for (const [record, changes] of decoded) {
    decoded.set(
      record,
      changes.filter((c) => c.kind !== 'room-advanced' || newest.get(c.room.id)?.record === record),
    );
  }
  return decoded;
}

/**
 * Table stream → members' activity, unread bookkeeping and background purges.
 * A failed record is reported alone (partial batch response) and retried.
 */
export const handler = async (event: DynamoDBStreamEvent, context: Context) => {
  const plan = newestRoomRecords(event.Records);
  const onRecord = async (record: DynamoDBRecord) => {
    for (const change of plan.get(record) ?? []) await applyTableChange(change);
  };
  return processPartialResponse(event, onRecord, processor, {
    context,
    throwOnFullBatchFailure: false,
  });
};
