import { startLocalAws } from '#local/stack.ts';

/** DynamoDB Local + fauxqs for one test file, with env pointing the functions' code at them. */
export async function localAws() {
  const aws = await startLocalAws();
  // No client connects in integration tests: nothing is ever posted here.
  process.env.WS_ENDPOINT = 'http://127.0.0.1:9';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return aws;
}

export const caller = (userId: string) => ({ userId, name: userId.toUpperCase() });

/** Every body on the offline-delivery queue now, taken off it. */
export async function drainOffline(): Promise<{ user_id: string; message: { id: string } }[]> {
  const { SQSClient, ReceiveMessageCommand, DeleteMessageCommand } = await import(
    '@aws-sdk/client-sqs'
  );
  const sqs = new SQSClient({});
  const url = process.env.OFFLINE_QUEUE_URL!;
  const bodies = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!out.Messages?.length) break;
    for (const m of out.Messages) {
      bodies.push(JSON.parse(m.Body!));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  return bodies;
}
