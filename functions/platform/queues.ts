import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AppError } from './errors.ts';

let sqsClient: SQSClient | undefined;
const sqs = () => {
  sqsClient ??= new SQSClient({});
  return sqsClient;
};

/**
 * Sends bodies to a queue in batches of 10 (the SQS maximum), in parallel.
 * Failed entries are retried once, then reported by throwing: the caller's
 * message must not be lost silently.
 */
export async function enqueue(
  queueUrl: string,
  bodies: readonly unknown[],
  delaySeconds = 0,
): Promise<void> {
  const batches: unknown[][] = [];
  for (let i = 0; i < bodies.length; i += 10) batches.push(bodies.slice(i, i + 10));
  await Promise.all(batches.map((batch) => sendBatch(queueUrl, batch, delaySeconds)));
}

async function sendBatch(queueUrl: string, batch: unknown[], delaySeconds: number): Promise<void> {
  let entries = batch.map((body, i) => ({
    Id: String(i),
    MessageBody: JSON.stringify(body),
    DelaySeconds: delaySeconds,
  }));
  for (let attempt = 0; attempt < 2 && entries.length > 0; attempt++) {
    const out = await sqs().send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );
    const failed = new Set((out.Failed ?? []).map((f) => f.Id));
    entries = entries.filter((e) => failed.has(e.Id));
  }
  if (entries.length > 0) throw new AppError('INTERNAL', `SQS refused ${entries.length} messages`);
}
