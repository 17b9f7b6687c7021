import { Stack } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { type Access, environmentOf, FILE_ACTIONS, PUSH_ACTIONS } from '#functions/access.ts';
import { queues } from '#functions/routes.ts';
import { ATTACHMENT_KEY_PREFIX } from '#platform/attachment-layout.ts';
import { ENV, type EnvName } from '#platform/env.ts';

/** The stack's resources a declaration can name, and the values of the settings. */
export interface AccessTargets {
  table: Table;
  /** Queues by route-table id. */
  queues: ReadonlyMap<string, Queue>;
  /** The WebSocket API, its stage, and the @connections URL functions post to. */
  webSocket: { apiId: string; stageName: string; callbackUrl: string };
  cursorSecret: ISecret;
  /** The private bucket of attachment files. */
  attachments: IBucket;
  /** The operator's topic of new reports. */
  reportsTopic: ITopic;
  /** Values of the plain settings (issuer, grace period...); '' or absent leaves one out. */
  settings: Partial<Record<EnvName, string>>;
}

/**
 * Grants a function exactly what functions/access.ts declares for it, at the
 * action level, and sets exactly the environment variables the declaration
 * implies (environmentOf). Nothing else reaches its role or its environment.
 */
export function applyAccess(fn: LambdaFunction, access: Access, targets: AccessTargets): void {
  const stack = Stack.of(fn);
  const allow = (actions: readonly string[], resources: readonly string[]) => {
    if (actions.length > 0 && resources.length > 0)
      fn.addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: [...resources] }));
  };
  const { table } = targets;

  allow(
    (access.table ?? []).map((a) => `dynamodb:${a}`),
    [table.tableArn],
  );
  allow(
    access.indexes?.length ? ['dynamodb:Query'] : [],
    (access.indexes ?? []).map((index) => `${table.tableArn}/index/${index}`),
  );
  for (const id of access.sendsTo ?? []) {
    const queue = targets.queues.get(id);
    if (!queue) throw new Error(`${id} is not a queue of the route table`);
    // SendMessageBatch is authorized as sqs:SendMessage.
    allow(['sqs:SendMessage'], [queue.queueArn]);
  }
  for (const method of access.connections ?? []) {
    allow(
      ['execute-api:ManageConnections'],
      [
        stack.formatArn({
          service: 'execute-api',
          resource: targets.webSocket.apiId,
          resourceName: `${targets.webSocket.stageName}/${method}/@connections/*`,
        }),
      ],
    );
  }
  if (access.push?.length && targets.settings[ENV.pushApplications]) {
    // SNS authorizes platform-endpoint actions, and Publish to a TargetArn, only on "*"
    // (Service Authorization Reference: no resource type for them).
    allow(
      access.push.flatMap((p) => PUSH_ACTIONS[p]),
      ['*'],
    );
  }
  // Files only, never the bucket: no listing, and no key outside rooms/.
  allow(
    [...new Set((access.files ?? []).flatMap((use) => FILE_ACTIONS[use]))],
    [targets.attachments.arnForObjects(`${ATTACHMENT_KEY_PREFIX}*`)],
  );
  if (access.notifiesOperators) allow(['sns:Publish'], [targets.reportsTopic.topicArn]);
  if (access.cursorKey) allow(['secretsmanager:GetSecretValue'], [targets.cursorSecret.secretArn]);

  const values: Partial<Record<EnvName, string>> = {
    ...targets.settings,
    [ENV.tableName]: table.tableName,
    [ENV.cursorKeySecretArn]: targets.cursorSecret.secretArn,
    [ENV.wsEndpoint]: targets.webSocket.callbackUrl,
    [ENV.attachmentsBucket]: targets.attachments.bucketName,
    [ENV.reportsTopicArn]: targets.reportsTopic.topicArn,
    ...Object.fromEntries(queues.map((q) => [q.env, targets.queues.get(q.id)?.queueUrl ?? ''])),
  };
  for (const name of environmentOf(access)) {
    // An optional setting left empty (no push platform, no rate-limit overrides) is left out.
    const value = values[name];
    if (value) fn.addEnvironment(name, value);
  }
}
