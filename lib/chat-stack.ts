import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { access } from '#functions/access.ts';
import {
  BACKGROUND_CONCURRENCY,
  httpRoutes,
  queues,
  schedules,
  streamConsumers,
  wsAuthorizer,
  wsGatewayReplies,
  wsRoutes,
} from '#functions/routes.ts';
import { ENV } from '#platform/env.ts';
import { DEFAULT_MODERATOR_GROUP } from '#platform/moderators.ts';
import { type AccessTargets, applyAccess } from './access-grants.ts';
import { ApiGatewayAccount } from './api-gateway-account.ts';
import { AttachmentStorage } from './attachments.ts';
import { leftOutOf } from './bundling.ts';
import { ChatFunction, idFor } from './chat-function.ts';
import { CONSUMER_TIMEOUT, Delivery } from './delivery.ts';
import { ChatHttpApi } from './http-api.ts';
import { ChatUserPool } from './identity.ts';
import { Monitoring } from './monitoring.ts';
import { Schedules } from './presence.ts';
import { Safety } from './safety.ts';
import { type Capacity, ChatTable } from './table.ts';
import { ChatWebSocketApi } from './websocket-api.ts';

export interface ChatStackProps extends StackProps {
  stage: string;
  /**
   * `-c auth=cognito`: a user pool and app client in this stack are the identity
   * provider (lib/identity.ts); jwtIssuer, jwtAudience and jwksUri are then unused.
   */
  cognito?: { hostedDomainPrefix?: string | undefined; callbackUrls?: string[] } | undefined;
  /** Browser origins the HTTP API and the attachment bucket allow (`-c corsOrigins`; default any). */
  corsOrigins?: string[] | undefined;
  jwtIssuer: string;
  /** The JWKS URL (`-c jwksUri`); unset, the authorizer reads it from the issuer's OpenID discovery document. */
  jwksUri?: string | undefined;
  jwtAudience: string;
  /**
   * The stage's SNS platform applications as ENV.pushApplications JSON, kind → ARN
   * (functions/platform/push-applications.ts), or '' for none.
   */
  pushApplications: string;
  presenceGraceSeconds: number;
  /** Seconds without a heartbeat before a connection counts as dead (default 60). */
  heartbeatTimeoutSeconds?: number;
  /** Per-stage rate-limit overrides (RATE_LIMITS JSON), or '' for the defaults. */
  rateLimits?: string;
  /** Per-stage overrides of the contract's limits, as CHAT_LIMITS JSON ('' for the defaults). */
  limits?: string;
  alarmEmail?: string | undefined;
  /** The token group of the stage's moderators (`-c moderatorGroup=…`, default `moderators`). */
  moderatorGroup?: string;
  /** Subscribed by email to the reports topic (`-c reportsEmail=…`); any other subscriber is added after deploy. */
  reportsEmail?: string | undefined;
  /** Create API Gateway's account-level CloudWatch role (default true; false where the account has one). */
  apiGatewayCloudWatchRole?: boolean;
  /** X-Ray active tracing on every function (`-c tracing=active`; lib/chat-function.ts OBSERVABILITY). */
  tracing?: boolean;
  /** The table's billing (`-c capacity=provisioned`; lib/table.ts PROVISIONED); on-demand by default. */
  capacity?: Capacity;
}

/**
 * The whole backend. Every Lambda comes from the route table (functions/routes.ts),
 * the same table the local gateway reads.
 */
export class ChatStack extends Stack {
  /** Resources whose wildcard grants cdk-nag findings are reviewed (lib/nag-suppressions.ts). */
  readonly nagScope: {
    table: Table;
    webSocketApi: WebSocketApi;
    stageName: string;
    attachments: Bucket;
  };

  constructor(scope: Construct, id: string, props: ChatStackProps) {
    super(scope, id, props);
    const retain = props.stage !== 'dev';
    const { table } = new ChatTable(this, 'Data', { retain, capacity: props.capacity });
    const delivery = new Delivery(this, 'Delivery');
    const ws = new ChatWebSocketApi(this, 'WebSocket', {
      stageName: props.stage,
      retainLogs: retain,
    });
    const identity = props.cognito
      ? new ChatUserPool(this, 'Identity', {
          retain,
          moderatorGroup: props.moderatorGroup ?? DEFAULT_MODERATOR_GROUP,
          hostedDomainPrefix: props.cognito.hostedDomainPrefix,
          callbackUrls: props.cognito.callbackUrls ?? [],
        })
      : undefined;
    const jwtIssuer = identity?.issuer ?? props.jwtIssuer;
    const jwtAudience = identity?.audience ?? props.jwtAudience;
    const http = new ChatHttpApi(this, 'Http', {
      jwtIssuer,
      jwtAudience,
      corsOrigins: props.corsOrigins ?? ['*'],
      retainLogs: retain,
    });
    const monitoring = new Monitoring(this, 'Monitoring', { alarmEmail: props.alarmEmail, retain });
    const scheduled = new Schedules(this, 'Schedules');

    const files = new AttachmentStorage(this, 'Attachments', {
      retain,
      allowedOrigins: props.corsOrigins ?? ['*'],
    });
    const safety = new Safety(this, 'Safety', { reportsEmail: props.reportsEmail });
    this.nagScope = {
      table,
      webSocketApi: ws.api,
      stageName: props.stage,
      attachments: files.bucket,
    };
    if (props.apiGatewayCloudWatchRole ?? true) {
      // The WebSocket stage writes access logs: it needs the account's role first.
      const { account } = new ApiGatewayAccount(this, 'ApiGatewayAccount');
      ws.stage.node.addDependency(account);
    }

    // Seals pagination cursors (functions/store/cursor.ts): generated here, never in a template.
    const cursorSecret = new Secret(this, 'CursorKey', {
      description: 'Key material that seals pagination cursors',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });

    // What each function may touch is declared in functions/access.ts; it gets exactly that.
    const targets: AccessTargets = {
      table,
      queues: new Map(queues.map((q) => [q.id, delivery.queues.get(q.env)!])),
      webSocket: { apiId: ws.api.apiId, stageName: props.stage, callbackUrl: ws.callbackUrl },
      cursorSecret,
      attachments: files.bucket,
      reportsTopic: safety.reportsTopic,
      settings: {
        [ENV.jwtIssuer]: jwtIssuer,
        // Empty (left out) without -c jwksUri: the authorizer discovers it (platform/auth.ts).
        [ENV.jwksUri]: identity ? '' : (props.jwksUri ?? ''),
        [ENV.jwtAudience]: jwtAudience,
        [ENV.pushApplications]: props.pushApplications,
        [ENV.presenceGraceSeconds]: String(props.presenceGraceSeconds),
        [ENV.heartbeatTimeoutSeconds]: String(props.heartbeatTimeoutSeconds ?? 60),
        [ENV.rateLimits]: props.rateLimits ?? '',
        [ENV.chatLimits]: props.limits ?? '',
        [ENV.moderatorGroup]: props.moderatorGroup ?? DEFAULT_MODERATOR_GROUP,
      },
    };
    const make = (handler: string, timeout?: Duration) => {
      const declared = access[handler];
      if (!declared) throw new Error(`${handler} has no declaration in functions/access.ts`);
      const fn = new ChatFunction(this, {
        handler,
        environment: {},
        timeout,
        retainLogs: retain,
        tracing: props.tracing,
        leftOut: leftOutOf(declared),
      });
      applyAccess(fn, declared, targets);
      return fn;
    };

    for (const route of httpRoutes) http.addRoute(route, make(route.handler));

    const authorizer = make(wsAuthorizer);
    for (const route of wsRoutes) {
      ws.addRoute(
        route.routeKey,
        make(route.handler),
        route.routeKey === '$connect' ? authorizer : undefined,
      );
    }
    for (const reply of wsGatewayReplies) ws.addGatewayReply(reply);

    for (const consumer of streamConsumers) {
      const fn = make(consumer.handler, CONSUMER_TIMEOUT);
      fn.addEventSource(
        new DynamoEventSource(table, {
          startingPosition: StartingPosition.TRIM_HORIZON,
          batchSize: consumer.batchSize,
          // A busy room's records coalesce into one member update per batch.
          maxBatchingWindow: Duration.seconds(1),
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
          retryAttempts: 10,
          maxRecordAge: Duration.hours(24),
          parallelizationFactor: BACKGROUND_CONCURRENCY.streamParallelization,
          onFailure: new SqsDlq(delivery.streamFailures),
        }),
      );
      monitoring.alarmOnFunction(fn, idFor(consumer.handler));
    }

    for (const definition of queues) {
      if (!definition.consumer) continue;
      const fn = make(definition.consumer, CONSUMER_TIMEOUT);
      fn.addEventSource(
        new SqsEventSource(delivery.queues.get(definition.env)!, {
          batchSize: definition.batchSize,
          reportBatchItemFailures: true,
          maxConcurrency: definition.maxConcurrency,
        }),
      );
      monitoring.alarmOnFunction(fn, idFor(definition.consumer));
    }

    for (const schedule of schedules) {
      const fn = make(schedule.handler, CONSUMER_TIMEOUT);
      scheduled.add(idFor(schedule.handler), fn, schedule.everySeconds);
      monitoring.alarmOnFunction(fn, idFor(schedule.handler));
    }

    for (const [i, dlq] of delivery.deadLetterQueues.entries())
      monitoring.alarmOnDlq(dlq, `DeadLetters${i}`);

    new CfnOutput(this, 'HttpApiUrl', { value: http.api.apiEndpoint });
    new CfnOutput(this, 'WebSocketUrl', { value: ws.stage.url });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'AttachmentsBucket', { value: files.bucket.bucketName });
    new CfnOutput(this, 'ReportsTopicArn', { value: safety.reportsTopic.topicArn });
  }
}
