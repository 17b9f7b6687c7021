import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ENV, requireEnv } from './env.ts';

/**
 * Operator notifications: a new report goes to the stack's reports topic,
 * to whatever the operator subscribed (email, a ticketing webhook, a queue;
 * docs/safety.md "Reports"). One Publish per report.
 */
let client: SNSClient | undefined;
export async function notifyOperators(subject: string, body: unknown): Promise<void> {
  client ??= new SNSClient({});
  await client.send(
    new PublishCommand({
      TopicArn: requireEnv(ENV.reportsTopicArn),
      // SNS limits a subject to 100 printable ASCII characters.
      Subject: subject.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
      Message: JSON.stringify(body),
    }),
  );
}
