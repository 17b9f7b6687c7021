import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queues } from '#functions/routes.ts';
import { idFor } from '#lib/chat-function.ts';
import { ENV } from '#platform/env.ts';
import { REPORTS_TOPIC } from '../messaging.ts';
import { LOCAL_ATTACHMENTS_BUCKET } from '../storage.ts';
import { type DeployedFunction, type LocalNames, loadAssembly } from './assembly.ts';
import { DEPLOYED_RECORD_DIR_ENV } from './env.ts';
import { grantsOf, type Judged, policyJudge } from './policy.ts';
import { FUNCTION_SECRET_ACCESS_KEY, startRecorder } from './recorder.ts';
import { startWorkers } from './runtime.ts';

/**
 * The deployed-handlers mode of the local stack (`npm run test:deployed`): the
 * gateways, pollers and scheduler invoke the bundles of a cloud assembly instead
 * of the source modules, each function runs with its own template environment,
 * and every AWS call it makes is recorded and judged against its IAM policies.
 *
 * Switched on by CHAT_DEPLOYED_ASSEMBLY (local/deployed/env.ts); the calls are
 * written to CHAT_DEPLOYED_RECORD_DIR when the stack stops.
 */

export const LOCAL_ACCOUNT = '000000000000';
/** The WebSocket API's id in ARNs the recorder builds (any id will do; it only has to agree). */
const WEBSOCKET_API_ID = 'localws';
const CURSOR_SECRET_NAME = 'chat-cursor-key';

/** The app's own settings (functions/platform/env.ts) a local stack may set to its own values. */
const SETTINGS = new Set<string>(Object.values(ENV));

export interface DeployedRuntimeOptions {
  assemblyDir: string;
  region: string;
  tableName: string;
  /** The push topic's name in the SNS emulator. */
  pushTopicName: string;
  /** `s3`: the local attachments storage; by default the local cloud's AWS_ENDPOINT_URL_S3 (in `settings`). */
  upstream: { dynamodb: string; sqs: string; sns: string; connections: string; s3?: string };
  dynamoAccessKeyId: string;
  /** The local stack's environment: its values for settings the template sets (issuer, grace period...). */
  settings: NodeJS.ProcessEnv;
}

export async function startDeployedRuntime(options: DeployedRuntimeOptions) {
  const region = options.region;
  const account = LOCAL_ACCOUNT;
  const local: LocalNames = {
    region,
    account,
    names: {
      'Data/Table': options.tableName,
      'Delivery/PushTopic': options.pushTopicName,
      'Safety/ReportsTopic': REPORTS_TOPIC,
      'WebSocket/Api': WEBSOCKET_API_ID,
      'Attachments/Files': LOCAL_ATTACHMENTS_BUCKET,
      CursorKey: CURSOR_SECRET_NAME,
      ...Object.fromEntries(queues.map((q) => [`Delivery/${idFor(q.id)}`, q.id])),
    },
  };
  const assembly = loadAssembly(options.assemblyDir, local);
  const judge = policyJudge(assembly.functions, account);
  const storageEndpoint = options.upstream.s3 ?? options.settings.AWS_ENDPOINT_URL_S3;
  if (!storageEndpoint)
    throw new Error('test:deployed: no local S3 (AWS_ENDPOINT_URL_S3) to record');
  const cursorSecretArn = `arn:aws:secretsmanager:${region}:${account}:secret:${CURSOR_SECRET_NAME}`;
  // The workers start once the proxies' endpoints are known; calls are checked from then on.
  let checkCall: (fn: string, request: string) => void = () => undefined;
  const recorder = await startRecorder({
    region,
    account,
    judge: judge.judge,
    upstream: { ...options.upstream, s3: storageEndpoint },
    webSocket: { apiId: WEBSOCKET_API_ID },
    secrets: options.settings[ENV.cursorKey]
      ? { [cursorSecretArn]: options.settings[ENV.cursorKey]! }
      : {},
    dynamoAccessKeyId: options.dynamoAccessKeyId,
    observe: (fn, request) => checkCall(fn, request),
    // As on AWS: a missing key read by a role without s3:ListBucket (none has it) is 403
    // AccessDenied, not 404. The send's HEAD counts both as "not uploaded"
    // (store/file-requests.ts); a deleted file's download URL answers 403.
    missingObjects: 'as-s3',
  });
  const { endpoints } = recorder;

  // AWS service URLs in the template (queue URLs, the @connections endpoint) name the proxies.
  const substitute = (value: string) =>
    value
      .replace(`https://sqs.${region}.amazonaws.com`, endpoints.sqs)
      .replace(
        `https://${WEBSOCKET_API_ID}.execute-api.${region}.amazonaws.com`,
        endpoints.connections,
      );

  const envOf = (fn: DeployedFunction): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const [key, { value, literal }] of Object.entries(fn.environment)) {
      const mine = options.settings[key];
      // A setting the template leaves empty stays off (e.g. no push platform application).
      env[key] =
        literal && value !== '' && SETTINGS.has(key) && mine !== undefined
          ? mine
          : substitute(value);
    }
    return {
      ...env,
      // What the Lambda runtime sets, with credentials that name the function.
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: fn.logicalId,
      AWS_SECRET_ACCESS_KEY: FUNCTION_SECRET_ACCESS_KEY,
      AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.logicalId}`,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: '/var/task',
      _HANDLER: `${fn.entryFile.replace(/\.mjs$/, '')}.${fn.entryExport}`,
      TZ: 'UTC',
      // The local cloud in place of AWS's endpoints, as the source mode points at it.
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_SNS: endpoints.sns,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secrets,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      POWERTOOLS_LOG_LEVEL: options.settings.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
  };
  const workers = startWorkers(assembly.functions, envOf, account, region);
  checkCall = workers.checkCall;

  return {
    assembly,
    invoke: workers.invoke,
    warm: workers.warm,
    calls: recorder.calls,
    async stop() {
      await workers.stop();
      await recorder.stop();
      const dir = process.env[DEPLOYED_RECORD_DIR_ENV];
      if (dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          join(dir, `calls-${process.pid}-${Date.now()}.json`),
          JSON.stringify({
            calls: aggregate(recorder.calls),
            grants: assembly.functions.flatMap((f) => grantsOf(f, new Set(f.eventSourceArns))),
            coldStarts: Object.fromEntries(workers.coldStarts),
            timeouts: workers.violations,
            longest: Object.fromEntries(workers.longest),
            timeoutSeconds: Object.fromEntries(
              assembly.functions.map((f) => [f.handler, f.timeoutSeconds]),
            ),
          }),
        );
      }
    },
  };
}

/** One entry per distinct call, with how often it was made. */
function aggregate(calls: readonly Judged[]): (Judged & { count: number })[] {
  const out = new Map<string, Judged & { count: number }>();
  for (const c of calls) {
    const key = `${c.fn} ${c.action} ${c.resource} ${c.decision}`;
    const seen = out.get(key);
    if (seen) seen.count++;
    else out.set(key, { ...c, count: 1 });
  }
  return [...out.values()];
}
