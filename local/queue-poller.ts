import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueDefinition } from '#functions/routes.ts';
import { sleep } from '#platform/time.ts';
import { invoke } from './lambda-runtime.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './ports.ts';

/**
 * Feeds a queue to its consumer the way Lambda's SQS event source does: long
 * polling, the SQSEvent shape, partial batch responses. Records that succeed
 * are deleted; failed ones stay and return after the visibility timeout, then
 * go to the DLQ through the queue's redrive policy. `duplicate` delivers every
 * batch twice.
 */
const POLLERS_PER_QUEUE = 2;
/** Each second a batch runs, its records stay invisible this much longer. */
const VISIBILITY_HEARTBEAT_SECONDS = 3;

export function startQueuePoller(options: {
  endpoint: string;
  queue: QueueDefinition;
  queueUrl: string;
  duplicate: boolean;
}) {
  const client = new SQSClient({
    endpoint: options.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const handler = options.queue.consumer!;
  let running = true;
  const queueArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${options.queue.id}`;

  async function loop() {
    while (running) {
      // A failed round (the emulator, a record that cannot be read) is logged and
      // the loop goes on: nothing here may end the process. Undeleted messages
      // come back after the visibility timeout, then go to the DLQ.
      try {
        await round();
      } catch (error) {
        if (!running) return;
        console.error(`[sqs] ${options.queue.id}: polling failed`, error);
        await sleep(500);
      }
    }
  }

  async function round() {
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(10, options.queue.batchSize),
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return;
    const records = messages.flatMap((m) => {
      try {
        return [toRecord(m, queueArn)];
      } catch (error) {
        console.error(`[sqs] ${options.queue.id}: passing over message ${m.MessageId}`, error);
        return [];
      }
    });
    const stopHeartbeat = keepInvisible(messages);
    let failed: Set<string>;
    try {
      failed = records.length > 0 ? await invokeBatch(records) : new Set<string>();
    } finally {
      stopHeartbeat();
    }
    if (options.duplicate && records.length > 0) await invokeBatch(records);
    const delivered = new Set(records.map((r) => r.messageId));
    const done = messages.filter((m) => delivered.has(m.MessageId!) && !failed.has(m.MessageId!));
    if (done.length > 0) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }

  /**
   * The queues' visibility timeout is short locally (local/messaging.ts), so a
   * failed record comes back in seconds. A batch still running must not come
   * back meanwhile: on AWS the timeout is 6× the function's, so a consumer that
   * runs is never handed its own records again, and on a busy machine this
   * batch can take longer than 2 s (a second poller then ran the offline
   * deliveries again, re-queued messages the flush had already delivered, and
   * the load bench counted them twice). So its records are kept invisible
   * while it runs.
   */
  function keepInvisible(messages: readonly Message[]): () => void {
    const timer = setInterval(() => {
      client
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: messages.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle!,
              VisibilityTimeout: VISIBILITY_HEARTBEAT_SECONDS,
            })),
          }),
        )
        .catch(() => undefined);
    }, 1000);
    return () => clearInterval(timer);
  }

  async function invokeBatch(records: SQSRecord[]): Promise<Set<string>> {
    const event: SQSEvent = { Records: records };
    try {
      const result = await invoke<{ batchItemFailures?: { itemIdentifier: string }[] } | undefined>(
        handler,
        event,
      );
      return new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      console.error(`[sqs] ${handler} threw`, error);
      return new Set(records.map((r) => r.messageId));
    }
  }

  const loops = Array.from({ length: POLLERS_PER_QUEUE }, () => loop());
  return {
    async stop() {
      running = false;
      await Promise.allSettled(loops);
      client.destroy();
    },
  };
}

function toRecord(m: Message, queueArn: string): SQSRecord {
  const attributes = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        {
          dataType: v.DataType ?? 'String',
          stringValue: v.StringValue,
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}
