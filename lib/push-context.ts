import {
  kindOfApplicationArn,
  PUSH_APPLICATION_KINDS,
  type PushApplicationKind,
  type PushApplications,
  parsePushApplications,
  SNS_PLATFORM,
} from '#platform/push-applications.ts';

/** The context key of each platform application (docs/deploy.md "Push notifications"). */
export const PUSH_CONTEXT_KEYS: Record<PushApplicationKind, string> = {
  apns: 'pushApnsArn',
  apns_sandbox: 'pushApnsSandboxArn',
  fcm: 'pushFcmArn',
};

/** The one-application key of earlier versions, still read: its ARN's `app/<segment>/` says which. */
export const DEPRECATED_PUSH_CONTEXT_KEY = 'pushPlatformApplicationArn';

const NEW_KEYS = PUSH_APPLICATION_KINDS.map((k) => PUSH_CONTEXT_KEYS[k]).join(', ');

/**
 * The functions' ENV.pushApplications value ('' for none) from the context, or
 * the one line that says what is wrong with it. Checked with the parser the
 * functions use, so a mistake fails the synth rather than a registration.
 */
export function pushApplicationsFromContext(
  context: (key: string) => string,
): { json: string; problem?: undefined } | { json?: undefined; problem: string } {
  const applications: PushApplications = {};
  for (const kind of PUSH_APPLICATION_KINDS) {
    const key = PUSH_CONTEXT_KEYS[kind];
    const arn = context(key).trim();
    if (!arn) continue;
    if (kindOfApplicationArn(arn) !== kind)
      return {
        problem: `-c ${key} must be an SNS platform application ARN, arn:aws:sns:<region>:<account>:app/${SNS_PLATFORM[kind]}/<name> (got "${arn}")`,
      };
    applications[kind] = arn;
  }
  const legacy = context(DEPRECATED_PUSH_CONTEXT_KEY).trim();
  if (legacy) {
    const kind = kindOfApplicationArn(legacy);
    if (!kind)
      return {
        problem: `-c ${DEPRECATED_PUSH_CONTEXT_KEY} (deprecated: use ${NEW_KEYS}) must be an SNS platform application ARN, …:app/APNS/, app/APNS_SANDBOX/ or app/GCM/<name> (got "${legacy}")`,
      };
    const given = applications[kind];
    if (given && given !== legacy)
      return {
        problem: `-c ${DEPRECATED_PUSH_CONTEXT_KEY} and -c ${PUSH_CONTEXT_KEYS[kind]} name different applications: drop the deprecated ${DEPRECATED_PUSH_CONTEXT_KEY}`,
      };
    applications[kind] = legacy;
  }
  if (applications.apns && applications.apns_sandbox)
    return {
      problem: `Set -c ${PUSH_CONTEXT_KEYS.apns} (App Store and TestFlight builds) or -c ${PUSH_CONTEXT_KEYS.apns_sandbox} (development builds), not both: a device registers as "apns" and cannot say which build it is, so a stage has one APNs application`,
    };
  const json = Object.keys(applications).length > 0 ? JSON.stringify(applications) : '';
  // The functions' own parser, as they will read it (it throws on what passed above only by a bug).
  parsePushApplications(json);
  return { json };
}
