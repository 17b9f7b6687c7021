import { Client } from '@smithy/core/client';
import { currentInvocation, invocationObservers } from '#local/lambda-runtime.ts';
import { billedMs, type ModeledInvocation, modelInvocation } from './lambda-time.ts';

/**
 * Counts the billable units of everything the local stack does in this process:
 * every AWS SDK call (all clients share smithy's Client.send), with DynamoDB
 * asked for its consumed capacity on every call, failed conditional writes
 * included; every Lambda invocation with its duration, split into its own
 * compute and its AWS round trips (bench/lambda-time.ts); and every log event
 * the functions write (their JSON lines: Powertools logs and EMF metrics).
 */
export interface Units {
  readUnits: number;
  /** Every write unit, those of failed conditional writes included. */
  writeUnits: number;
  /** Write units of conditional writes that failed (DynamoDB bills them too). */
  failedWriteUnits: number;
  dynamoCalls: Record<string, number>;
  sqsRequests: number;
  snsPublishes: number;
  connectionPosts: number;
  managementCalls: number;
  lambda: Record<string, LambdaTally>;
  /** The functions' own log events (CloudWatch Logs ingestion) and their bytes. */
  logEvents: number;
  logBytes: number;
}

export interface LambdaTally {
  invocations: number;
  /** Local wall time, summed. */
  ms: number;
  /** Each invocation's compute and AWS round trips, to be billed at a memory size. */
  modeled: ModeledInvocation[];
}

const empty = (): Units => ({
  readUnits: 0,
  writeUnits: 0,
  failedWriteUnits: 0,
  dynamoCalls: {},
  sqsRequests: 0,
  snsPublishes: 0,
  connectionPosts: 0,
  managementCalls: 0,
  lambda: {},
  logEvents: 0,
  logBytes: 0,
});

/** Billed Lambda milliseconds of a tally at `memoryMb` (bench/lambda-time.ts). */
export function billedMsAt(tally: LambdaTally, memoryMb: number): number {
  return tally.modeled.reduce((n, m) => n + billedMs(m, memoryMb), 0);
}

/** The service a call goes to, as bench/lambda-time.ts prices its time. */
function serviceOf(client: { config?: { serviceId?: string } }, command: string): string {
  const id = client.config?.serviceId ?? '';
  if (id === 'DynamoDB')
    return command.startsWith('Transact') ? 'dynamodb-transaction' : 'dynamodb';
  if (id === 'SQS') return 'sqs';
  if (id === 'SNS') return 'sns';
  if (id === 'ApiGatewayManagementApi') return 'connections';
  if (id === 'S3') return 's3';
  return 'other';
}

/** Items a write names (a failed one is billed at least 1 unit per item; twice in a transaction). */
function itemsWritten(name: string, input: Record<string, unknown>): number {
  if (name === 'TransactWriteCommand') return ((input.TransactItems as unknown[]) ?? []).length;
  return 1;
}

const READS = new Set([
  'GetCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetCommand',
  'TransactGetCommand',
]);
const WRITES = new Set([
  'PutCommand',
  'UpdateCommand',
  'DeleteCommand',
  'BatchWriteCommand',
  'TransactWriteCommand',
]);

type Capacity = { CapacityUnits?: number } | { CapacityUnits?: number }[] | undefined;
const sumCapacity = (c: Capacity) =>
  (Array.isArray(c) ? c : c ? [c] : []).reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);

let current: Units = empty();
let installed = false;

/** Starts counting (once per process); `reset` starts a new tally. */
export function installMeter(): { reset(): void; read(): Units } {
  if (!installed) {
    installed = true;
    const send = Client.prototype.send;
    Client.prototype.send = function meteredSend(
      this: Client<never, never, never, never>,
      command: { constructor: { name: string }; input: Record<string, unknown> },
      ...rest: unknown[]
    ) {
      const name = command.constructor.name;
      const isDynamo = READS.has(name) || WRITES.has(name);
      if (isDynamo) command.input.ReturnConsumedCapacity ??= 'TOTAL';
      const trace = currentInvocation.getStore();
      const start = performance.now();
      const result = (send as (...a: unknown[]) => Promise<Record<string, unknown>>).call(
        this,
        command,
        ...rest,
      );
      const traced = trace
        ? result.finally(() =>
            trace.calls.push({
              service: serviceOf(this as { config?: { serviceId?: string } }, name),
              start,
              end: performance.now(),
            }),
          )
        : result;
      return traced.then(
        (out) => {
          const u = current;
          if (isDynamo) {
            u.dynamoCalls[name] = (u.dynamoCalls[name] ?? 0) + 1;
            // DynamoDB bills transactional items twice; DynamoDB Local reports them once.
            const factor = name.startsWith('Transact') ? 2 : 1;
            const units = factor * sumCapacity(out?.ConsumedCapacity as Capacity);
            if (WRITES.has(name)) u.writeUnits += units;
            else u.readUnits += units;
          } else if (name === 'SendMessageBatchCommand' || name === 'SendMessageCommand') {
            u.sqsRequests++;
          } else if (name === 'ReceiveMessageCommand') {
            // Lambda's SQS poller: a receive that brought messages, then their deletion.
            if (((out?.Messages as unknown[] | undefined)?.length ?? 0) > 0) u.sqsRequests++;
          } else if (name === 'DeleteMessageBatchCommand' || name === 'DeleteMessageCommand') {
            u.sqsRequests++;
          } else if (name === 'PublishCommand') {
            u.snsPublishes++;
          } else if (name === 'PostToConnectionCommand') {
            u.connectionPosts++;
          } else if (name === 'GetConnectionCommand' || name === 'DeleteConnectionCommand') {
            u.managementCalls++;
          }
          return out;
        },
        (error: { name?: string }) => {
          // A failed condition is billed as a write of the item (at least 1 unit,
          // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html);
          // a cancelled transaction is counted at its items' transactional price.
          if (
            WRITES.has(name) &&
            (error?.name === 'ConditionalCheckFailedException' ||
              error?.name === 'TransactionCanceledException')
          ) {
            const factor = name.startsWith('Transact') ? 2 : 1;
            const units = factor * itemsWritten(name, command.input);
            current.writeUnits += units;
            current.failedWriteUnits += units;
            current.dynamoCalls[`${name} (failed)`] =
              (current.dynamoCalls[`${name} (failed)`] ?? 0) + 1;
          }
          throw error;
        },
      );
    } as typeof send;
    invocationObservers.add((handler, ms, trace) => {
      const entry = current.lambda[handler] ?? { invocations: 0, ms: 0, modeled: [] };
      current.lambda[handler] = entry;
      entry.invocations++;
      entry.ms += ms;
      entry.modeled.push(modelInvocation(ms, trace));
    });
    countLogEvents(process.stdout);
    countLogEvents(process.stderr);
  }
  return {
    reset() {
      current = empty();
    },
    read() {
      return current;
    },
  };
}

/**
 * The functions' log events, as CloudWatch Logs would ingest them: each JSON
 * line a function writes (Powertools Logger's entries and Metrics' EMF blobs).
 * They are counted and kept off the bench's own output; anything else passes.
 */
function countLogEvents(stream: NodeJS.WriteStream) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : '';
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const events = lines.filter(isLogEvent);
    if (events.length === 0) return write(chunk, ...rest);
    for (const line of events) {
      current.logEvents++;
      current.logBytes += Buffer.byteLength(line);
    }
    const others = lines.filter((l) => !isLogEvent(l));
    if (others.length > 0) write(`${others.join('\n')}\n`);
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof stream.write;
}

function isLogEvent(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return '_aws' in parsed || ('level' in parsed && 'timestamp' in parsed);
  } catch {
    return false;
  }
}
