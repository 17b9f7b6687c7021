import { mkdirSync } from 'node:fs';
import { Server } from 'node:net';
import { startFauxqs } from 'fauxqs';
import { queues } from '#functions/routes.ts';
import { startSqsTextProxy } from './sqs-text.ts';

export interface LocalMessaging {
  /** The SQS endpoint the functions use: fauxqs behind the text proxy (sqs-text.ts). */
  endpoint: string;
  /** Queue URL by the env var name the functions read (QueueDefinition.env). */
  queueUrls: Record<string, string>;
  /** Queue name by env var name, and each queue's DLQ name. */
  queueNames: Record<string, { queue: string; dlq: string }>;
  topicArn: string;
  reportsTopicArn: string;
  server: Awaited<ReturnType<typeof startFauxqs>>;
  stop(): Promise<void>;
}

export const PUSH_TOPIC = 'chat-push';
/** The operator's topic of new reports (lib/safety.ts). */
export const REPORTS_TOPIC = 'chat-reports';

/**
 * The SQS/SNS emulator with the stack's queues (each with its DLQ and redrive
 * policy, as in lib/delivery.ts) and the push topic.
 */
export async function startMessaging(
  options: { dataDir?: string | undefined } = {},
): Promise<LocalMessaging> {
  const dataDir = options.dataDir ? `${options.dataDir}/fauxqs` : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const server = await onLoopback(() =>
    startFauxqs({
      port: 0,
      logger: false,
      messageSpies: true,
      ...(dataDir ? { dataDir } : {}),
    }),
  );
  // Queue URLs name the proxy too: the SDK sends to a queue URL's host when it differs.
  const text = await startSqsTextProxy(server.address);
  const queueUrls: Record<string, string> = {};
  const queueNames: LocalMessaging['queueNames'] = {};
  for (const q of queues) {
    const dlq = server.createQueue(`${q.id}-dlq`);
    const main = server.createQueue(q.id, {
      attributes: {
        // Short locally so a failed record comes back quickly; AWS uses ≥ 6× the function timeout.
        VisibilityTimeout: '2',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.queueArn,
          maxReceiveCount: q.maxReceiveCount,
        }),
      },
    });
    // fauxqs names queues sqs.<region>.localhost, which this machine's resolver may not know;
    // it routes by path, so the URL is pointed at its loopback address instead.
    queueUrls[q.env] = main.queueUrl.replace(/^http:\/\/[^/]+/, text.endpoint);
    queueNames[q.env] = { queue: q.id, dlq: `${q.id}-dlq` };
  }
  const { topicArn } = server.createTopic(PUSH_TOPIC);
  const reportsTopicArn = server.createTopic(REPORTS_TOPIC).topicArn;
  return {
    endpoint: text.endpoint,
    queueUrls,
    queueNames,
    topicArn,
    reportsTopicArn,
    server,
    stop: async () => {
      await text.stop();
      await server.stop();
    },
  };
}

/**
 * fauxqs 2.4.1 (the newest on the registry) listens on every interface whatever
 * its `host` option says (`app.listen({ port, host: "0.0.0.0" })` in its
 * startFauxqs). While it starts, a listen on 0.0.0.0 is made on 127.0.0.1
 * instead; nothing else in this process asks for 0.0.0.0.
 */
async function onLoopback<T>(start: () => Promise<T>): Promise<T> {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const [options] = args;
    if (
      typeof options === 'object' &&
      options &&
      (options as { host?: unknown }).host === '0.0.0.0'
    )
      args[0] = { ...options, host: '127.0.0.1' };
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    Server.prototype.listen = listen;
  }
}
