import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { sleep } from '#platform/time.ts';
import { invoke } from './lambda-runtime.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './ports.ts';

/**
 * Feeds the table's stream to the stream consumers the way Lambda's event
 * source mapping does: batches in shard order, the Lambda event shape, and on a
 * partial batch failure a retry from the first failed record (capped, then the
 * records go to an on-failure list, as to a DLQ). `duplicate` delivers every
 * batch twice, to show the consumers are idempotent.
 *
 * Like the mapping, it keeps a checkpoint: per shard, the sequence number of the
 * last record every consumer has finished with, written after each batch to
 * `<checkpointDir>/stream-checkpoint.json`. A restart on the same DATA_DIR (after
 * Ctrl-C or a crash) resumes after it, so nothing written meanwhile is skipped;
 * a batch in flight at a crash is delivered again (at least once, as on AWS). A
 * shard with no checkpoint starts at TRIM_HORIZON, the mapping's starting
 * position in lib/chat-stack.ts, and records older than the stream's 24 h
 * retention are passed over as AWS would have trimmed them.
 */
export interface StreamPollerOptions {
  endpoint: string;
  streamArn: string;
  consumers: readonly { handler: string; batchSize: number }[];
  duplicate: boolean;
  /** Where the checkpoint is kept (DATA_DIR); without one, progress lives in memory only. */
  checkpointDir?: string | undefined;
}

/** Per shard: the last sequence number processed, or null when none yet. */
interface Checkpoint {
  streamArn: string;
  shards: Record<string, string | null>;
}

const RETENTION_MS = 24 * 3600 * 1000;

function loadCheckpoint(file: string | undefined, streamArn: string): Checkpoint {
  const empty: Checkpoint = { streamArn, shards: {} };
  if (!file) return empty;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
    // Another stream (the table was made anew): its positions mean nothing here.
    return saved.streamArn === streamArn && saved.shards ? saved : empty;
  } catch {
    return empty;
  }
}

/** Written whole to a temporary file and renamed over the old one: a crash leaves either. */
const written = new Map<string, string>();
function saveCheckpoint(file: string | undefined, checkpoint: Checkpoint) {
  if (!file) return;
  const text = JSON.stringify(checkpoint);
  if (written.get(file) === text) return;
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
  written.set(file, text);
}

type StartPosition =
  | { type: 'TRIM_HORIZON' }
  | { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string };

/**
 * Like the event source's batching window (lib/chat-stack.ts): records gather
 * for a moment, so a busy room's updates coalesce into one per batch.
 */
const BATCH_WINDOW_MS = 250;
const IDLE_MS = 25;
const RETRY_LIMIT = 5;

export function startStreamPoller(options: StreamPollerOptions) {
  const client = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const shards = new Map<string, Promise<void>>();
  const failed: DynamoDBRecord[] = [];
  /** Records that could not be turned into a Lambda event: logged and passed over. */
  const skipped: SkippedRecord[] = [];
  /** Where each shard's reading began (for tests: a restart resumes after its checkpoint). */
  const starts = new Map<string, string>();
  const file = options.checkpointDir
    ? `${options.checkpointDir}/stream-checkpoint.json`
    : undefined;
  if (options.checkpointDir) mkdirSync(options.checkpointDir, { recursive: true });
  const checkpoint = loadCheckpoint(file, options.streamArn);
  let running = true;

  async function discover() {
    const out = await client.send(new DescribeStreamCommand({ StreamArn: options.streamArn }));
    const live = new Set<string>();
    for (const shard of out.StreamDescription?.Shards ?? []) {
      const id = shard.ShardId!;
      live.add(id);
      if (shards.has(id)) continue;
      const done = checkpoint.shards[id];
      const start: StartPosition = done
        ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: done }
        : { type: 'TRIM_HORIZON' };
      checkpoint.shards[id] ??= null;
      shards.set(id, readShard(id, start));
    }
    // Shards the stream no longer lists are gone for good.
    for (const id of Object.keys(checkpoint.shards))
      if (!live.has(id)) delete checkpoint.shards[id];
    saveCheckpoint(file, checkpoint);
  }

  async function iteratorAt(shardId: string, start: StartPosition) {
    const request = {
      StreamArn: options.streamArn,
      ShardId: shardId,
      ShardIteratorType: start.type,
      ...(start.type === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: start.sequenceNumber } : {}),
    };
    try {
      const iterator = (await client.send(new GetShardIteratorCommand(request))).ShardIterator;
      starts.set(
        shardId,
        start.type === 'AFTER_SEQUENCE_NUMBER' ? `after:${start.sequenceNumber}` : start.type,
      );
      return iterator;
    } catch (error) {
      if (start.type === 'TRIM_HORIZON') throw error;
      // The checkpoint is no longer in the stream (trimmed): read what is left.
      console.warn(`[stream] ${shardId}: checkpoint not found, reading from TRIM_HORIZON`);
      return iteratorAt(shardId, { type: 'TRIM_HORIZON' });
    }
  }

  async function readShard(shardId: string, start: StartPosition) {
    let iterator: string | undefined;
    const maxBatch = Math.max(...options.consumers.map((c) => c.batchSize));
    while (running) {
      // Nothing a record or the engine does may end the process: a failed round is
      // logged and the shard is read again from its checkpoint.
      try {
        iterator ??= await iteratorAt(shardId, resumeFrom(shardId, start));
        if (!iterator) return;
        const next = await readBatch(shardId, iterator, maxBatch);
        if (!next) return; // a closed shard, read to its end
        iterator = next;
      } catch (error) {
        if (!running) return;
        console.error(`[stream] ${shardId}: reading failed, resuming from the checkpoint`, error);
        iterator = undefined;
        await sleep(500);
      }
    }
  }

  function resumeFrom(shardId: string, start: StartPosition): StartPosition {
    const done = checkpoint.shards[shardId];
    return done ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: done } : start;
  }

  /** One batch, as the event source mapping sends it; returns the next iterator. */
  async function readBatch(shardId: string, iterator: string, maxBatch: number) {
    const out = await client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: maxBatch }),
    );
    let next = out.NextShardIterator;
    const raw = out.Records ?? [];
    if (raw.length === 0) {
      await sleep(IDLE_MS);
      return next;
    }
    if (raw.length < maxBatch && next) {
      await sleep(BATCH_WINDOW_MS);
      const more = await client.send(
        new GetRecordsCommand({ ShardIterator: next, Limit: maxBatch - raw.length }),
      );
      next = more.NextShardIterator;
      raw.push(...(more.Records ?? []));
    }
    const retainedSince = Date.now() - RETENTION_MS;
    const records = decodeRecords(
      raw.filter(
        (r) => (r.dynamodb?.ApproximateCreationDateTime?.getTime() ?? Infinity) >= retainedSince,
      ),
      options.streamArn,
      (record) => skipped.push(record),
    );
    for (const consumer of options.consumers) {
      for (let i = 0; i < records.length; i += consumer.batchSize) {
        await deliver(consumer.handler, records.slice(i, i + consumer.batchSize));
      }
    }
    // Every consumer is done with the batch (or gave up on records into `failed`).
    checkpoint.shards[shardId] =
      raw.at(-1)?.dynamodb?.SequenceNumber ?? checkpoint.shards[shardId] ?? null;
    saveCheckpoint(file, checkpoint);
    return next;
  }

  async function deliver(handler: string, batch: DynamoDBRecord[]) {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= RETRY_LIMIT) {
        console.error(
          `[stream] ${handler}: giving up on ${pending.length} records after ${RETRY_LIMIT} tries`,
        );
        failed.push(...pending);
        return;
      }
      if (attempt > 0) await sleep(50 * 2 ** attempt);
      const firstFailure = await invokeBatch(handler, pending);
      pending = firstFailure === undefined ? [] : pending.slice(firstFailure);
      if (options.duplicate && firstFailure === undefined) await invokeBatch(handler, batch);
    }
  }

  /** Returns the index of the first failed record, or undefined when all succeeded. */
  async function invokeBatch(
    handler: string,
    batch: DynamoDBRecord[],
  ): Promise<number | undefined> {
    const event: DynamoDBStreamEvent = { Records: batch };
    try {
      const result = await invoke<{ batchItemFailures?: { itemIdentifier: string }[] } | undefined>(
        handler,
        event,
      );
      const failedIds = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      if (failedIds.size === 0) return undefined;
      const index = batch.findIndex((r) => failedIds.has(r.dynamodb?.SequenceNumber ?? ''));
      return Math.max(0, index);
    } catch (error) {
      console.error(`[stream] ${handler} threw`, error);
      return 0;
    }
  }

  const discovery = (async () => {
    while (running) {
      try {
        await discover();
      } catch (error) {
        if (running) console.error('[stream] discovery failed', error);
      }
      await sleep(1000);
    }
  })();

  return {
    failed,
    skipped,
    starts,
    async stop() {
      running = false;
      await discovery;
      await Promise.allSettled(shards.values());
      client.destroy();
    },
  };
}

type Image = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;
type Value = Image[string];

/** What is logged of a record passed over: where it is, never its contents. */
export interface SkippedRecord {
  eventID: string | undefined;
  sequenceNumber: string | undefined;
  keys: string[];
  error: string;
}

/**
 * The Lambda records of a batch. A record that cannot be decoded is logged (its
 * id, sequence number and key attribute names) and passed over, as a record
 * the mapping could not deliver goes to its on-failure destination: one bad
 * record must not stop the shard, let alone the process.
 */
export function decodeRecords(
  raw: readonly _Record[],
  streamArn: string,
  onSkip: (record: SkippedRecord) => void = () => undefined,
): DynamoDBRecord[] {
  const decode = toLambdaRecord(streamArn);
  return raw.flatMap((record) => {
    try {
      return [decode(record)];
    } catch (error) {
      const skipped: SkippedRecord = {
        eventID: record.eventID,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        keys: Object.keys(record.dynamodb?.Keys ?? {}),
        error: error instanceof Error ? error.message : String(error),
      };
      console.error('[stream] skipping a record that could not be decoded', skipped);
      onSkip(skipped);
      return [];
    }
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * The Streams client deserializes an empty map attribute `{M: {}}` as `{}`;
 * Lambda's event carries `{M: {}}`. Restored here so consumers see what AWS sends.
 * Any key is data, `__proto__` included: only own properties are read
 * (Object.hasOwn) and results are built with Object.fromEntries, which defines
 * own properties rather than assigning through a prototype setter. The Streams
 * client itself decodes a `__proto__` map entry as undefined (its value is lost
 * before this code sees it): such an entry is left out.
 */
function restoreEmptyMaps(image: unknown): Image | undefined {
  if (!isObject(image)) return undefined;
  const fix = (value: Record<string, unknown>): Value => {
    if (Object.keys(value).length === 0) return { M: {} };
    if (Object.hasOwn(value, 'M') && isObject(value.M)) return { M: mapOf(value.M) };
    if (Object.hasOwn(value, 'L') && Array.isArray(value.L))
      return { L: value.L.filter(isObject).map(fix) };
    return value as Value;
  };
  const mapOf = (map: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(map).flatMap(([k, v]) => (isObject(v) ? [[k, fix(v)]] : [])));
  return mapOf(image);
}

export function toLambdaRecord(streamArn: string) {
  return (record: _Record): DynamoDBRecord => ({
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: LOCAL_REGION,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: record.dynamodb?.ApproximateCreationDateTime
        ? Math.floor(record.dynamodb.ApproximateCreationDateTime.getTime() / 1000)
        : Math.floor(Date.now() / 1000),
      Keys: restoreEmptyMaps(record.dynamodb?.Keys),
      NewImage: restoreEmptyMaps(record.dynamodb?.NewImage),
      OldImage: restoreEmptyMaps(record.dynamodb?.OldImage),
      SequenceNumber: record.dynamodb?.SequenceNumber,
      SizeBytes: record.dynamodb?.SizeBytes,
      StreamViewType: record.dynamodb?.StreamViewType as NonNullable<
        DynamoDBRecord['dynamodb']
      >['StreamViewType'],
    },
  });
}
