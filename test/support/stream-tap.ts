import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/ports.ts';
import { toLambdaRecord } from '#local/stream-poller.ts';

/**
 * Reads DynamoDB Local's stream by hand, so a test decides when, in what order
 * and how many times the consumer sees each record.
 */
export async function tapStream(endpoint: string, streamArn: string) {
  const client = new DynamoDBStreamsClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const iterators = new Map<string, string | undefined>();
  const toRecord = toLambdaRecord(streamArn);

  async function discover(type: 'LATEST' | 'TRIM_HORIZON') {
    const out = await client.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of out.StreamDescription?.Shards ?? []) {
      if (iterators.has(shard.ShardId!)) continue;
      const it = await client.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId!,
          ShardIteratorType: type,
        }),
      );
      iterators.set(shard.ShardId!, it.ShardIterator);
    }
  }
  await discover('LATEST');

  return {
    /** Every record written since the last drain, in stream order. */
    async drain(): Promise<DynamoDBRecord[]> {
      await discover('TRIM_HORIZON');
      const records: DynamoDBRecord[] = [];
      for (const [shard, iterator] of iterators) {
        let next = iterator;
        for (;;) {
          if (!next) break;
          const out = await client.send(
            new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }),
          );
          records.push(...(out.Records ?? []).map(toRecord));
          next = out.NextShardIterator;
          if (!out.Records?.length) break;
        }
        iterators.set(shard, next);
      }
      return records;
    },
    close: () => client.destroy(),
  };
}
