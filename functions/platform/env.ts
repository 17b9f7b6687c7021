import { ConfigError } from './errors.ts';
/**
 * The environment every function reads. CDK (lib/) and the local cloud (local/)
 * both set these names, so they are declared once here.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  /** Base URL of the WebSocket API's @connections endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}). */
  wsEndpoint: 'WS_ENDPOINT',
  jwtIssuer: 'JWT_ISSUER',
  jwksUri: 'JWKS_URI',
  /** Required: the `aud` a token must carry (a token for another app is refused). */
  jwtAudience: 'JWT_AUDIENCE',
  offlineQueueUrl: 'OFFLINE_QUEUE_URL',
  /** Delayed presence checks: "has this user been gone for the whole grace period?" */
  presenceQueueUrl: 'PRESENCE_QUEUE_URL',
  /** "Connection ready": delivers pending messages once $connect has returned. */
  flushQueueUrl: 'FLUSH_QUEUE_URL',
  /** Big rooms: chunks of a message's fan-out, posted off the send's request path. */
  fanOutQueueUrl: 'FANOUT_QUEUE_URL',
  /** Numbers taken by a send that never stored anything: checked again later, then filled. */
  gapQueueUrl: 'GAP_QUEUE_URL',
  /** Background deletion of a removed or cleared room's messages. */
  purgeQueueUrl: 'PURGE_QUEUE_URL',
  /** Erasing accounts (DELETE /api/chat/me): each job closes, leaves and deletes in bounded steps. */
  eraseQueueUrl: 'ERASE_QUEUE_URL',
  /** Attachments: the state of their files in the bucket (retag sent ones, delete released ones). */
  attachmentsQueueUrl: 'ATTACHMENTS_QUEUE_URL',
  /** The private bucket of uploaded files (CONTRACT §8). */
  attachmentsBucket: 'ATTACHMENTS_BUCKET',
  pushTopicArn: 'PUSH_TOPIC_ARN',
  /** New reports go here, for whoever the operator subscribes (docs/safety.md "Reports"). */
  reportsTopicArn: 'REPORTS_TOPIC_ARN',
  /**
   * Optional: the SNS platform applications for device endpoints, JSON kind → ARN
   * (`apns`, `apns_sandbox`, `fcm`; platform/push-applications.ts). A device whose
   * platform has none is stored and never pushed.
   */
  pushApplications: 'PUSH_APPLICATIONS',
  /** Secret material for sealing pagination cursors, given directly (local stack, tests). */
  cursorKey: 'CURSOR_KEY',
  /** On AWS: the Secrets Manager secret holding that material, read at cold start. */
  cursorKeySecretArn: 'CURSOR_KEY_SECRET_ARN',
  presenceGraceSeconds: 'PRESENCE_GRACE_SECONDS',
  /** Seconds without a heartbeat after which a connection counts as dead (default 60). */
  heartbeatTimeoutSeconds: 'HEARTBEAT_TIMEOUT_SECONDS',
  /** The token group whose members may moderate (CONTRACT §9; `-c moderatorGroup=…`, default `moderators`). */
  moderatorGroup: 'MODERATOR_GROUP',
  /** Optional: per-stage rate-limit overrides, JSON bucket → rule (platform/rate-limit-rules.ts). */
  rateLimits: 'RATE_LIMITS',
  /** Optional: per-stage overrides of the contract's limits, JSON name → number (platform/limits.ts). */
  chatLimits: 'CHAT_LIMITS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/**
 * A CDK context value (an object in cdk.json, JSON text from `-c`) as the text
 * of a JSON setting, checked with the parser the functions use, so a bad value
 * fails `cdk synth` rather than a request. '' when unset.
 */
export function jsonSettingFromContext(value: unknown, check: (json: string) => unknown): string {
  if (value === undefined || value === null || value === '') return '';
  const json = typeof value === 'string' ? value : JSON.stringify(value);
  check(json);
  return json;
}

/** Reads a required variable at cold start and fails fast when it is missing. */
export function requireEnv(name: EnvName): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`Missing required environment variable ${name}`);
  }
  return value;
}

export function optionalEnv(name: EnvName): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Seconds a user stays "online" after their last connection goes away (presence grace). */
export function presenceGraceSeconds(): number {
  const value = Number(process.env[ENV.presenceGraceSeconds] ?? 30);
  return Number.isFinite(value) && value >= 0 ? value : 30;
}

/**
 * A connection that sent no heartbeat for this long is dead (clients ping every
 * 25 s, so the default is two missed pings plus slack). Tests shorten it.
 */
export function heartbeatTimeoutMs(): number {
  const value = Number(process.env[ENV.heartbeatTimeoutSeconds] ?? 60);
  return (Number.isFinite(value) && value > 0 ? value : 60) * 1000;
}
