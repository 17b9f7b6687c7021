import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { ENV, optionalEnv, requireEnv } from './env.ts';

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

/** With a platform application configured, a device gets its own SNS endpoint. */
export async function createDeviceEndpoint(token: string, userId: string): Promise<string | null> {
  const arn = platformApplicationArn();
  if (!arn) return null;
  const out = await sns().send(
    new CreatePlatformEndpointCommand({
      PlatformApplicationArn: arn,
      Token: token,
      CustomUserData: userId,
    }),
  );
  return out.EndpointArn ?? null;
}

export async function deleteDeviceEndpoint(endpointArn: string): Promise<void> {
  await sns().send(new DeleteEndpointCommand({ EndpointArn: endpointArn }));
}

/**
 * Publishes a push: to each device endpoint when there are any, otherwise to the
 * push topic with the user id as a message attribute (subscribers filter on it).
 */
export async function publishPush(
  userId: string,
  endpointArns: readonly string[],
  notification: PushNotification,
): Promise<void> {
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
  if (endpointArns.length > 0) {
    await Promise.all(
      endpointArns.map((arn) =>
        sns().send(
          new PublishCommand({ TargetArn: arn, Message: message, MessageStructure: 'json' }),
        ),
      ),
    );
    return;
  }
  await sns().send(
    new PublishCommand({
      TopicArn: requireEnv(ENV.pushTopicArn),
      Message: message,
      MessageStructure: 'json',
      MessageAttributes: { user_id: { DataType: 'String', StringValue: userId } },
    }),
  );
}
