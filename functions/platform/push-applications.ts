import { ConfigError } from './errors.ts';

/**
 * A stage's SNS platform applications, one per push service: `apns` (APNs
 * production: App Store and TestFlight builds), `apns_sandbox` (APNs sandbox:
 * development builds run from Xcode) and `fcm` (Firebase Cloud Messaging, which
 * SNS calls GCM). The functions get them as one JSON setting
 * (ENV.pushApplications), e.g. `{"apns":"arn:…:app/APNS/chat","fcm":"arn:…:app/GCM/chat"}`;
 * any may be missing. Nothing here runs at load (see domain/offline-delivery.ts).
 */
export const PUSH_APPLICATION_KINDS = ['apns', 'apns_sandbox', 'fcm'] as const;
export type PushApplicationKind = (typeof PUSH_APPLICATION_KINDS)[number];
export type PushApplications = Partial<Record<PushApplicationKind, string>>;

/** A device's `platform` as the contract names it (§5, POST /api/chat/devices). */
export type DevicePlatform = 'apns' | 'fcm';

/** The platform segment of each kind's ARN, `arn:aws:sns:<region>:<account>:app/<segment>/<name>`. */
export const SNS_PLATFORM: Record<PushApplicationKind, string> = {
  apns: 'APNS',
  apns_sandbox: 'APNS_SANDBOX',
  fcm: 'GCM',
};

const APPLICATION_ARN =
  /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:app\/([A-Z_]+)\/[A-Za-z0-9_.-]{1,256}$/;

/** The kind an SNS platform application ARN is for, by its `app/<segment>/`; undefined for another. */
export function kindOfApplicationArn(arn: string): PushApplicationKind | undefined {
  const segment = APPLICATION_ARN.exec(arn)?.[1];
  return PUSH_APPLICATION_KINDS.find((kind) => SNS_PLATFORM[kind] === segment);
}

/**
 * Parses and checks the setting: known kinds only, each an SNS platform
 * application ARN of its own kind, and not both APNs applications (below).
 * Throws ConfigError, so a bad value fails the synth, or else a cold start.
 */
export function parsePushApplications(json: string | undefined): PushApplications {
  if (json === undefined || json === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new ConfigError('Push applications must be JSON: kind → SNS application ARN', error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError('Push applications must be a JSON object: kind → SNS application ARN');
  const out: PushApplications = {};
  for (const [kind, arn] of Object.entries(value)) {
    if (!PUSH_APPLICATION_KINDS.includes(kind as PushApplicationKind))
      throw new ConfigError(
        `Unknown push application "${kind}" (one of ${PUSH_APPLICATION_KINDS.join(', ')})`,
      );
    if (arn === '' || arn === undefined || arn === null) continue;
    const k = kind as PushApplicationKind;
    if (typeof arn !== 'string' || kindOfApplicationArn(arn) !== k)
      throw new ConfigError(
        `Push application "${k}" must be an SNS platform application ARN …:app/${SNS_PLATFORM[k]}/<name> (got ${JSON.stringify(arn)})`,
      );
    out[k] = arn;
  }
  if (out.apns && out.apns_sandbox)
    throw new ConfigError(
      'Set one APNs application per stage, production (apns) or sandbox (apns_sandbox), not both: a device registers as "apns" only and cannot say which build it is',
    );
  return out;
}

/**
 * The application a device's pushes go through, or undefined when the stage
 * has none for its platform (the device is stored and never pushed).
 *
 * The contract's devices say `apns` or `fcm` and nothing about the build, and
 * an APNs token works only with the APNs environment its build was signed for
 * (a development build's token on production is refused, and the reverse). So a
 * stage runs iOS on one APNs application: `apns` for App Store and TestFlight
 * builds, or `apns_sandbox` for a stage that development builds talk to; an
 * `apns` device goes through whichever is set (parsePushApplications refuses
 * both). An `fcm` device goes through `fcm`.
 */
export function applicationFor(
  applications: PushApplications,
  platform: DevicePlatform,
): string | undefined {
  return platform === 'fcm' ? applications.fcm : (applications.apns ?? applications.apns_sandbox);
}

/**
 * Whether an endpoint was made under this application: SNS names endpoints
 * `…:endpoint/<segment>/<name>/<id>` after their application's `…:app/<segment>/<name>`.
 * An endpoint of an application the stage no longer has is not pushed through.
 */
export function endpointOf(applicationArn: string, endpointArn: string): boolean {
  return endpointArn.startsWith(`${applicationArn.replace(':app/', ':endpoint/')}/`);
}
