import { Client } from '@smithy/core/client';
import { invocationObservers } from '#local/lambda-runtime.ts';

/**
 * Counts the billable units of everything the local stack does in this process:
 * every AWS SDK call (all clients share smithy's Client.send), with DynamoDB
 * asked for its consumed capacity on every call; and every Lambda invocation
 * with its duration (the local runtime reports them).
 */
export interface Units {
  readUnits: number;
  writeUnits: number;
  dynamoCalls: Record<string, number>;
  sqsRequests: number;
  snsPublishes: number;
  connectionPosts: number;
  managementCalls: number;
  lambda: Record<string, { invocations: number; ms: number }>;
}

const empty = (): Units => ({
  readUnits: 0,
  writeUnits: 0,
  dynamoCalls: {},
  sqsRequests: 0,
  snsPublishes: 0,
  connectionPosts: 0,
  managementCalls: 0,
  lambda: {},
});

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
      const result = (send as (...a: unknown[]) => Promise<Record<string, unknown>>).call(
        this,
        command,
        ...rest,
      );
      return result.then((out) => {
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
      });
    } as typeof send;
    invocationObservers.add((handler, ms) => {
      const entry = current.lambda[handler] ?? { invocations: 0, ms: 0 };
      current.lambda[handler] = entry;
      entry.invocations++;
      entry.ms += ms;
    });
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
