import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { invoke } from './lambda-runtime.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './ports.ts';

/**
 * Feeds the table's stream to the stream consumers the way Lambda's event
 * source mapping does: batches in shard order, the Lambda event shape, and on a
 * partial batch failure a retry from the first failed record (capped, then the
 * records go to an on-failure list, as to a DLQ). `duplicate` delivers every
 * batch twice, to show the consumers are idempotent.
 */
export interface StreamPollerOptions {
  endpoint: string;
  streamArn: string;
  consumers: readonly { handler: string; batchSize: number }[];
  duplicate: boolean;
  /** Shards that exist at start-up are read from LATEST (a kept DATA_DIR is not replayed). */
  startAtLatest: boolean;
}

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
  let running = true;
  let firstDiscovery = true;

  async function discover() {
    const out = await client.send(new DescribeStreamCommand({ StreamArn: options.streamArn }));
    for (const shard of out.StreamDescription?.Shards ?? []) {
      const id = shard.ShardId!;
      if (shards.has(id)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const iteratorType = firstDiscovery && options.startAtLatest ? 'LATEST' : 'TRIM_HORIZON';
      if (closed && iteratorType === 'LATEST') continue;
      shards.set(id, readShard(id, iteratorType));
    }
    firstDiscovery = false;
  }

  async function readShard(shardId: string, iteratorType: 'LATEST' | 'TRIM_HORIZON') {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamArn: options.streamArn,
          ShardId: shardId,
          ShardIteratorType: iteratorType,
        }),
      )
    ).ShardIterator;
    const maxBatch = Math.max(...options.consumers.map((c) => c.batchSize));
    while (running && iterator) {
      const out = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: maxBatch }),
      );
      iterator = out.NextShardIterator;
      const records = (out.Records ?? []).map(toLambdaRecord(options.streamArn));
      if (records.length === 0) {
        await sleep(IDLE_MS);
        continue;
      }
      if (records.length < maxBatch && iterator) {
        await sleep(BATCH_WINDOW_MS);
        const more = await client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: maxBatch - records.length }),
        );
        iterator = more.NextShardIterator;
        records.push(...(more.Records ?? []).map(toLambdaRecord(options.streamArn)));
      }
      for (const consumer of options.consumers) {
        for (let i = 0; i < records.length; i += consumer.batchSize) {
          await deliver(consumer.handler, records.slice(i, i + consumer.batchSize));
        }
      }
    }
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

/**
 * The Streams client deserializes an empty map attribute `{M: {}}` as `{}`;
 * Lambda's event carries `{M: {}}`. Restored here so consumers see what AWS sends.
 */
function restoreEmptyMaps(image: unknown): Image | undefined {
  if (!image) return undefined;
  const fix = (value: Record<string, unknown>): Value => {
    if (Object.keys(value).length === 0) return { M: {} };
    if (value.M)
      return { M: Object.fromEntries(Object.entries(value.M).map(([k, v]) => [k, fix(v)])) };
    if (Array.isArray(value.L)) return { L: value.L.map((v: Record<string, unknown>) => fix(v)) };
    return value as Value;
  };
  return Object.fromEntries(
    Object.entries(image as Record<string, Record<string, unknown>>).map(([k, v]) => [k, fix(v)]),
  );
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
