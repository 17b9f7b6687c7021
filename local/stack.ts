import type { Server } from 'node:http';
import { allHandlers, queues, schedules, streamConsumers } from '#functions/routes.ts';
import { ENV } from '#platform/env.ts';
import type { PushApplicationKind } from '#platform/push-applications.ts';
import { loadOrCreateCursorKey } from './cursor-key.ts';
import { DEPLOYED_ASSEMBLY_ENV } from './deployed/env.ts';
import { startDynamo } from './dynamodb.ts';
import { createHttpGateway } from './http-gateway.ts';
import { createIssuer, type IssueOptions } from './issuer.ts';
import { useRuntime, warm } from './lambda-runtime.ts';
import { PUSH_TOPIC, startMessaging } from './messaging.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, listenOnLoopback } from './ports.ts';
import { startPushPlatform } from './push-platform.ts';
import { startQueuePoller } from './queue-poller.ts';
import { startScheduler } from './scheduler.ts';
import { configureSite } from './site.ts';
import { startLocalStorage } from './storage.ts';
import { startStreamPoller } from './stream-poller.ts';
import { createWsGateway } from './ws-gateway.ts';

export interface LocalAwsOptions {
  dataDir?: string | undefined;
  /** The SNS platform applications the local push platform holds (default APNs and FCM). */
  pushApplications?: readonly PushApplicationKind[];
}

/**
 * DynamoDB Local with the table, and fauxqs with the queues and topic; the
 * process env is pointed at them the way the stack's env points functions at
 * AWS, so the store and platform code run unchanged. For integration tests.
 */
export async function startLocalAws(options: LocalAwsOptions = {}) {
  const [dynamo, messaging] = await Promise.all([startDynamo(options), startMessaging(options)]);
  // Mobile push goes through local platform applications (APNs, FCM) in front of fauxqs's SNS;
  // attachments through fauxqs's S3 behind a proxy that enforces what S3 enforces.
  const [push, storage] = await Promise.all([
    startPushPlatform(messaging.server.address, options.pushApplications),
    startLocalStorage({
      upstream: messaging.server.address,
      create: (bucket) => void messaging.server.createBucket(bucket),
      allowedOrigins: ['*'],
    }),
  ]);
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: messaging.endpoint,
    AWS_ENDPOINT_URL_SNS: push.endpoint,
    AWS_ENDPOINT_URL_S3: storage.endpoint,
    [ENV.tableName]: dynamo.tableName,
    [ENV.pushTopicArn]: messaging.topicArn,
    [ENV.reportsTopicArn]: messaging.reportsTopicArn,
    [ENV.pushApplications]: JSON.stringify(push.applications),
    [ENV.attachmentsBucket]: storage.bucket,
    [ENV.cursorKey]: loadOrCreateCursorKey(options.dataDir),
    ...messaging.queueUrls,
  };
  Object.assign(process.env, env);
  return {
    dynamo,
    messaging,
    push,
    storage,
    env,
    async stop() {
      await Promise.allSettled([dynamo.stop(), messaging.stop(), push.stop(), storage.stop()]);
    },
  };
}

export interface LocalStackOptions extends LocalAwsOptions {
  /** 0 picks a free port. */
  httpPort?: number;
  wsPort?: number;
  graceSeconds?: number;
  /** Deliver every stream and queue batch twice (consumers must be idempotent). */
  duplicateDelivery?: boolean;
  /** Overrides every schedule's period (tests make the sweeper run often). */
  scheduleEverySeconds?: number;
  /** Told each slow step as it starts (npm start prints them). */
  onProgress?: (step: string) => void;
  /** Rate-limit overrides (bucket → rule, as RATE_LIMITS), e.g. small limits for a test. */
  rateLimits?: Record<string, string>;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** The whole backend on this machine: what `npm start` runs, and what e2e tests start. */
export async function startLocalStack(options: LocalStackOptions = {}) {
  options.onProgress?.('starting DynamoDB Local (Java) and the SQS/SNS emulator…');
  const aws = await startLocalAws(options);
  let httpPort = 0;
  let wsPort = 0;
  let managementPort = 0;
  let ready = false;
  const issuerHolder: { issuer?: Awaited<ReturnType<typeof createIssuer>> } = {};
  const ws = createWsGateway(() => wsPort);
  const httpServer = createHttpGateway(
    {
      get issuer() {
        return issuerHolder.issuer!.issuer;
      },
      get audience() {
        return issuerHolder.issuer!.audience;
      },
      get jwks() {
        return issuerHolder.issuer!.jwks;
      },
      issue: (sub, name, options) => issuerHolder.issuer!.issue(sub, name, options),
    },
    () => ready,
  );
  try {
    httpPort = await listenOnLoopback(httpServer, options.httpPort ?? 3000);
    wsPort = await listenOnLoopback(ws.server, options.wsPort ?? 3001);
    // @connections: for the functions only, so on loopback and apart from the public port.
    managementPort = await listenOnLoopback(ws.management, 0);
  } catch (error) {
    await Promise.allSettled([
      close(httpServer),
      close(ws.server),
      close(ws.management),
      aws.stop(),
    ]);
    throw error;
  }
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const wsUrl = `ws://127.0.0.1:${wsPort}`;
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  configureSite({ httpUrl, wsUrl });
  const issuerUrl = `${httpUrl}/local`;
  issuerHolder.issuer = await createIssuer(issuerUrl, options.dataDir);
  Object.assign(process.env, {
    [ENV.wsEndpoint]: managementUrl,
    [ENV.jwtIssuer]: issuerUrl,
    [ENV.jwtAudience]: issuerHolder.issuer.audience,
    // No JWKS_URI: the authorizer reads it from the issuer's openid-configuration, as a stage without -c jwksUri does.
    [ENV.presenceGraceSeconds]: String(options.graceSeconds ?? 30),
    ...(options.rateLimits ? { [ENV.rateLimits]: JSON.stringify(options.rateLimits) } : {}),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // No CloudWatch here: metrics would only be EMF lines on stdout.
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
  });
  // test:deployed: the synthesized bundles run in place of the source modules (local/deployed/).
  const deployed = process.env[DEPLOYED_ASSEMBLY_ENV]
    ? await (await import('./deployed/index.ts')).startDeployedRuntime({
        assemblyDir: process.env[DEPLOYED_ASSEMBLY_ENV],
        region: LOCAL_REGION,
        tableName: aws.dynamo.tableName,
        pushTopicName: PUSH_TOPIC,
        upstream: {
          dynamodb: aws.dynamo.endpoint,
          sqs: aws.messaging.endpoint,
          sns: aws.push.endpoint,
          connections: managementUrl,
        },
        dynamoAccessKeyId: LOCAL_CREDENTIALS.accessKeyId,
        settings: process.env,
      })
    : undefined;
  useRuntime(deployed);
  options.onProgress?.(`loading the ${allHandlers().length} Lambda handlers…`);
  await warm(allHandlers());

  const duplicate = options.duplicateDelivery ?? false;
  const streamPoller = startStreamPoller({
    endpoint: aws.dynamo.endpoint,
    streamArn: aws.dynamo.streamArn,
    consumers: streamConsumers,
    duplicate,
    checkpointDir: options.dataDir,
  });
  const queuePollers = queues
    .filter((q) => q.consumer)
    .map((queue) =>
      startQueuePoller({
        endpoint: aws.messaging.endpoint,
        queue,
        queueUrl: aws.messaging.queueUrls[queue.env]!,
        duplicate,
      }),
    );
  const scheduler = startScheduler(schedules, options.scheduleEverySeconds);
  ready = true;

  let stopping: Promise<void> | undefined;
  return {
    httpUrl,
    wsUrl,
    /** The local @connections endpoint (the functions' WS_ENDPOINT), on loopback. */
    managementUrl,
    tableName: aws.dynamo.tableName,
    env: { ...aws.env },
    aws,
    ws,
    streamFailures: streamPoller.failed,
    /** Stream records that could not be decoded: logged and passed over. */
    streamSkipped: streamPoller.skipped,
    /** Test hooks: where each stream shard was resumed from, and stopping the reader as a crash would. */
    streamStarts: streamPoller.starts,
    pauseStreams: () => streamPoller.stop(),
    /** `options` lets tests mint tokens that must be refused (expired, another audience or issuer). */
    issueToken: (sub: string, name?: string, options?: IssueOptions) =>
      issuerHolder.issuer!.issue(sub, name, options),
    stop() {
      stopping ??= (async () => {
        ready = false;
        for (const conn of ws.connections.values()) conn.socket.terminate();
        await Promise.allSettled([close(httpServer), close(ws.server), close(ws.management)]);
        await Promise.allSettled([
          scheduler.stop(),
          streamPoller.stop(),
          ...queuePollers.map((p) => p.stop()),
        ]);
        if (deployed) {
          await deployed.stop().catch((error: unknown) => console.error('[deployed] stop', error));
          useRuntime(undefined);
        }
        await aws.stop();
      })();
      return stopping;
    },
  };
}
