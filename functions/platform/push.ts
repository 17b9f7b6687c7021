import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  PublishCommand,
  SetEndpointAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { ENV, optionalEnv } from './env.ts';
import { logger } from './observability.ts';
import {
  applicationFor,
  type DevicePlatform,
  endpointOf,
  type PushApplications,
  parsePushApplications,
} from './push-applications.ts';
import { sleep } from './time.ts';

export interface PushNotification {
  title: string;
  body: string;
  data: Record<string, string>;
}

let snsClient: SNSClient | undefined;
const sns = () => {
  snsClient ??= new SNSClient({});
  return snsClient;
};

/** A stored device as push reads it: its platform and its endpoint, if one was made. */
export interface PushDevice {
  platform: DevicePlatform;
  endpoint_arn: string | null;
}

let parsed: { raw: string | undefined; applications: PushApplications } | undefined;
/** The stage's platform applications (ENV.pushApplications), parsed on first use. */
function applications(): PushApplications {
  const raw = optionalEnv(ENV.pushApplications);
  if (parsed === undefined || parsed.raw !== raw)
    parsed = { raw, applications: parsePushApplications(raw) };
  return parsed.applications;
}

/** The application this device's platform goes through on this stage, if any. */
export const applicationForPlatform = (platform: DevicePlatform) =>
  applicationFor(applications(), platform);

/** SNS's answer when a token already has an endpoint whose CustomUserData differs. */
const EXISTING_ENDPOINT = /Endpoint (arn:[^\s]+) already exists with the same Token/;

const named = (error: unknown, ...names: string[]) =>
  error instanceof Error && names.includes(error.name);
const isGone = (error: unknown) => named(error, 'NotFoundException', 'NotFound');

/** How often a registration takes over a token whose endpoint is deleted under it before it gives up. */
const CLAIM_ATTEMPTS = 3;

/**
 * With a platform application for the device's platform (push-applications.ts
 * applicationFor), a device gets its own SNS endpoint under that application,
 * owned by the user (CustomUserData); without one it gets none (null). A token can name one endpoint only: when
 * the phone changes hands (one user signs out, another signs in), the endpoint
 * moves to the new user, and the old user's pushes stop reaching it, because
 * publishing checks the owner. The previous owner may delete that endpoint at
 * the same moment (removing the device, or the device cap): the move then
 * finds it gone, and the token, free again, gets a new endpoint.
 */
export async function createDeviceEndpoint(
  platform: DevicePlatform,
  token: string,
  userId: string,
): Promise<string | null> {
  const arn = applicationForPlatform(platform);
  if (!arn) return null;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await sns().send(
        new CreatePlatformEndpointCommand({
          PlatformApplicationArn: arn,
          Token: token,
          CustomUserData: userId,
        }),
      );
      return out.EndpointArn ?? null;
    } catch (error) {
      const existing =
        named(error, 'InvalidParameterException', 'InvalidParameter') &&
        EXISTING_ENDPOINT.exec((error as Error).message)?.[1];
      if (!existing) throw error;
      try {
        await sns().send(
          new SetEndpointAttributesCommand({
            EndpointArn: existing,
            Attributes: { CustomUserData: userId, Enabled: 'true' },
          }),
        );
        return existing;
      } catch (moveError) {
        if (!isGone(moveError) || attempt === CLAIM_ATTEMPTS) throw moveError;
        // SNS may name the deleted endpoint for a moment longer.
        await sleep(100 * attempt);
      }
    }
  }
}

/**
 * Deletes the user's endpoint, unless it has moved to another user since (the
 * phone changed hands): that user's pushes go through it now. (A takeover that
 * lands between the check and the delete still loses it; the new user's app
 * registers its token again at its next start, as apps do.)
 */
export async function deleteDeviceEndpoint(endpointArn: string, userId: string): Promise<void> {
  if ((await endpointAttributes(endpointArn))?.owner !== userId) return;
  try {
    await sns().send(new DeleteEndpointCommand({ EndpointArn: endpointArn }));
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/** The endpoint's owner (CustomUserData) and whether it is enabled; null when it is gone. */
async function endpointAttributes(
  endpointArn: string,
): Promise<{ owner: string | undefined; enabled: boolean } | null> {
  try {
    const out = await sns().send(new GetEndpointAttributesCommand({ EndpointArn: endpointArn }));
    return {
      owner: out.Attributes?.CustomUserData,
      enabled: out.Attributes?.Enabled !== 'false',
    };
  } catch (error) {
    if (isGone(error)) return null;
    throw error;
  }
}

/** Whether the endpoint still belongs to `userId` and is enabled; gone endpoints are not. */
async function ownedBy(endpointArn: string, userId: string): Promise<boolean> {
  const endpoint = await endpointAttributes(endpointArn);
  return endpoint?.owner === userId && endpoint.enabled;
}

/**
 * Publishes a push to the user's own device endpoints, and nowhere else: there
 * is no shared topic that other subscribers could read. Each device goes
 * through the application of its own platform, and only through an endpoint
 * made under it: a device whose platform has no application on this stage (or
 * whose endpoint belongs to one the stage no longer has) is not pushed. Without
 * any such device nothing leaves the system (the message is still kept pending
 * and delivered on reconnect). Returns how many endpoints were sent to.
 */
export async function publishPush(
  userId: string,
  devices: readonly PushDevice[],
  notification: PushNotification,
): Promise<number> {
  const endpointArns = devices.flatMap(({ platform, endpoint_arn }) => {
    const application = applicationForPlatform(platform);
    return application && endpoint_arn && endpointOf(application, endpoint_arn)
      ? [endpoint_arn]
      : [];
  });
  if (endpointArns.length === 0) {
    logger.info('Push skipped: no device endpoint', {
      reason: devices.some((d) => applicationForPlatform(d.platform))
        ? 'no-endpoints'
        : 'no-platform-application',
    });
    return 0;
  }
  const message = JSON.stringify({
    default: notification.body,
    GCM: JSON.stringify({
      notification: { title: notification.title, body: notification.body },
      data: notification.data,
    }),
    APNS: JSON.stringify({
      aps: { alert: { title: notification.title, body: notification.body } },
      ...notification.data,
    }),
  });
  const sent = await Promise.all(
    endpointArns.map(async (arn): Promise<number> => {
      if (!(await ownedBy(arn, userId))) return 0;
      try {
        await sns().send(
          new PublishCommand({ TargetArn: arn, Message: message, MessageStructure: 'json' }),
        );
        return 1;
      } catch (error) {
        // A device that uninstalled the app or moved on: not a reason to retry the batch.
        if (isGone(error) || named(error, 'EndpointDisabledException', 'EndpointDisabled')) {
          return 0;
        }
        throw error;
      }
    }),
  );
  return sent.reduce((a, b) => a + b, 0);
}
