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

const platformApplicationArn = () => optionalEnv(ENV.pushPlatformApplicationArn);

/** SNS's answer when a token already has an endpoint whose CustomUserData differs. */
const EXISTING_ENDPOINT = /Endpoint (arn:[^\s]+) already exists with the same Token/;

const named = (error: unknown, ...names: string[]) =>
  error instanceof Error && names.includes(error.name);

/**
 * With a platform application configured, a device gets its own SNS endpoint,
 * owned by the user (CustomUserData). A token can name one endpoint only: when
 * the phone changes hands (one user signs out, another signs in), the endpoint
 * moves to the new user, and the old user's pushes stop reaching it, because
 * publishing checks the owner.
 */
export async function createDeviceEndpoint(token: string, userId: string): Promise<string | null> {
  const arn = platformApplicationArn();
  if (!arn) return null;
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
    await sns().send(
      new SetEndpointAttributesCommand({
        EndpointArn: existing,
        Attributes: { CustomUserData: userId, Enabled: 'true' },
      }),
    );
    return existing;
  }
}

export async function deleteDeviceEndpoint(endpointArn: string): Promise<void> {
  await sns().send(new DeleteEndpointCommand({ EndpointArn: endpointArn }));
}

/** Whether the endpoint still belongs to `userId` and is enabled; gone endpoints are not. */
async function ownedBy(endpointArn: string, userId: string): Promise<boolean> {
  try {
    const out = await sns().send(new GetEndpointAttributesCommand({ EndpointArn: endpointArn }));
    return out.Attributes?.CustomUserData === userId && out.Attributes?.Enabled !== 'false';
  } catch (error) {
    if (named(error, 'NotFoundException', 'NotFound')) return false;
    throw error;
  }
}

/**
 * Publishes a push to the user's own device endpoints, and nowhere else: there
 * is no shared topic that other subscribers could read. Without a platform
 * application, or without endpoints, nothing leaves the system (the message is
 * still kept pending and delivered on reconnect). Returns how many endpoints
 * were sent to.
 */
export async function publishPush(
  userId: string,
  endpointArns: readonly string[],
  notification: PushNotification,
): Promise<number> {
  if (!platformApplicationArn() || endpointArns.length === 0) {
    logger.info('Push skipped: no device endpoint', {
      reason: platformApplicationArn() ? 'no-endpoints' : 'no-platform-application',
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
        if (named(error, 'EndpointDisabledException', 'EndpointDisabled', 'NotFoundException')) {
          return 0;
        }
        throw error;
      }
    }),
  );
  return sent.reduce((a, b) => a + b, 0);
}
