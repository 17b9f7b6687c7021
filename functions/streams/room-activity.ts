import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { fileSent, messageReleasedFiles } from '#domain/attachment-release.ts';
import type { MessageRecord } from '#domain/model.ts';
import {
  checkTakenNumbers,
  deliverStoredMessages,
  purge,
  rememberDeletion,
} from '#domain/room-activity.ts';
import { decodeChanges, type TableChange } from '#store/stream-changes.ts';

const processor = new BatchProcessor(EventType.DynamoDBStreams);

type Work = () => Promise<void>;

/**
 * Plans a batch: the messages stored in one room are delivered together (one
 * room read, one connection read), as the work of the first record that holds
 * one of them. A failed record makes Lambda retry from it onwards, so the
 * later records of its room come back with it and nothing is skipped.
 */
function plan(records: readonly DynamoDBRecord[]): Map<DynamoDBRecord, Work[]> {
  const work = new Map<DynamoDBRecord, Work[]>(records.map((r) => [r, []]));
  const stored = new Map<string, { first: DynamoDBRecord; messages: MessageRecord[] }>();
  const taken = new Map<string, { first: DynamoDBRecord; seqs: Set<number> }>();
  const written = new Set<string>();
  for (const record of records) {
    for (const change of decodeChanges(record)) {
      if (change.kind === 'message-stored') {
        written.add(`${change.message.room_id}.${change.message.seq}`);
        const group = stored.get(change.message.room_id);
        if (group) group.messages.push(change.message);
        else stored.set(change.message.room_id, { first: record, messages: [change.message] });
      } else if (change.kind === 'sequence-taken') {
        const group = taken.get(change.roomId);
        if (group) group.seqs.add(change.seq);
        else taken.set(change.roomId, { first: record, seqs: new Set([change.seq]) });
      } else {
        if (change.kind === 'message-deleted')
          written.add(`${change.message.room_id}.${change.message.seq}`);
        work.get(record)!.push(() => applyChange(change));
      }
    }
  }
  for (const [roomId, group] of stored) {
    work.get(group.first)!.push(() => deliverStoredMessages(roomId, group.messages));
  }
  // A number whose message this batch did not bring is checked (a send may have died after taking it).
  for (const [roomId, group] of taken) {
    const unseen = [...group.seqs].filter((seq) => !written.has(`${roomId}.${seq}`));
    if (unseen.length > 0) work.get(group.first)!.push(() => checkTakenNumbers(roomId, unseen));
  }
  return work;
}

function applyChange(
  change: Exclude<TableChange, { kind: 'message-stored' } | { kind: 'sequence-taken' }>,
) {
  switch (change.kind) {
    case 'message-deleted':
      return rememberDeletion(change.message);
    case 'room-cleared':
      return purge({ room_id: change.room.id, up_to_seq: change.room.cleared_seq });
    case 'room-removed':
      return purge({ room_id: change.roomId, up_to_seq: null });
    case 'file-sent':
      return fileSent(change.roomId, change.attachmentId);
    case 'files-released':
      return messageReleasedFiles(change.message);
  }
}

/**
 * Table stream → the outbox (offline delivery of stored messages), unread
 * bookkeeping of deletions, and background purges. A failed record is reported
 * (partial batch response) and retried.
 */
export const handler = async (event: DynamoDBStreamEvent, context: Context) => {
  const work = plan(event.Records);
  const onRecord = async (record: DynamoDBRecord) => {
    for (const step of work.get(record) ?? []) await step();
  };
  return processPartialResponse(event, onRecord, processor, {
    context,
    throwOnFullBatchFailure: false,
  });
};
