import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  NotFoundException,
  PublishCommand,
  SetEndpointAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
/** The stage's applications: iOS (APNs) and Android (FCM), each its own. */
const APNS_APP = 'arn:aws:sns:us-east-1:123456789012:app/APNS/chat';
const FCM_APP = 'arn:aws:sns:us-east-1:123456789012:app/GCM/chat';
const BOTH = JSON.stringify({ apns: APNS_APP, fcm: FCM_APP });
process.env.PUSH_APPLICATIONS = BOTH;
const { createDeviceEndpoint, deleteDeviceEndpoint, publishPush } = await import(
  '#platform/push.ts'
);
const sns = mockClient(SNSClient);

const OLD = 'arn:aws:sns:us-east-1:123456789012:endpoint/GCM/chat/old';
const NEW = 'arn:aws:sns:us-east-1:123456789012:endpoint/GCM/chat/new';
const IOS = 'arn:aws:sns:us-east-1:123456789012:endpoint/APNS/chat/ios';
/** What SNS answers when the token already has an endpoint with other attributes. */
const taken = (arn: string) =>
  Object.assign(
    new Error(
      `Invalid parameter: Token Reason: Endpoint ${arn} already exists with the same Token, but different attributes.`,
    ),
    { name: 'InvalidParameterException' },
  );
/** How the SDK surfaces SNS's NotFound (and, for an unmodelled answer, a plain error named so). */
const gone = () => new NotFoundException({ message: 'Endpoint does not exist', $metadata: {} });
const goneUnmodelled = () =>
  Object.assign(new Error('Endpoint does not exist'), { name: 'NotFound' });

beforeEach(() => {
  sns.reset();
  process.env.PUSH_APPLICATIONS = BOTH;
});

describe('registering a token another user holds', () => {
  it('moves the endpoint to the new user', async () => {
    // Prepare
    sns.on(CreatePlatformEndpointCommand).rejects(taken(OLD));
    sns.on(SetEndpointAttributesCommand).resolves({});
    // Act
    const arn = await createDeviceEndpoint('fcm', 'phone-token', 'u_gus');
    // Assess
    expect(arn).toBe(OLD);
    expect(sns.commandCalls(SetEndpointAttributesCommand)[0]!.args[0].input).toEqual({
      EndpointArn: OLD,
      Attributes: { CustomUserData: 'u_gus', Enabled: 'true' },
    });
  });

  it('creates a new endpoint when the previous owner deleted it during the move', async () => {
    // Prepare: the first create finds the old endpoint, which is gone by the time it is moved.
    sns.on(CreatePlatformEndpointCommand).rejectsOnce(taken(OLD)).resolves({ EndpointArn: NEW });
    sns.on(SetEndpointAttributesCommand).rejects(gone());
    // Act
    const arn = await createDeviceEndpoint('fcm', 'phone-token', 'u_gus');
    // Assess
    expect(arn).toBe(NEW);
    expect(sns.commandCalls(CreatePlatformEndpointCommand)).toHaveLength(2);
  });

  it('gives up after a bounded number of attempts', async () => {
    sns.on(CreatePlatformEndpointCommand).rejects(taken(OLD));
    sns.on(SetEndpointAttributesCommand).rejects(gone());
    await expect(createDeviceEndpoint('fcm', 'phone-token', 'u_gus')).rejects.toThrow(
      'Endpoint does not exist',
    );
    expect(sns.commandCalls(CreatePlatformEndpointCommand)).toHaveLength(3);
  });
});

describe('removing a device', () => {
  it("deletes the user's own endpoint", async () => {
    sns.on(GetEndpointAttributesCommand).resolves({ Attributes: { CustomUserData: 'u_fay' } });
    sns.on(DeleteEndpointCommand).resolves({});
    await deleteDeviceEndpoint(OLD, 'u_fay');
    expect(sns.commandCalls(DeleteEndpointCommand)[0]!.args[0].input).toEqual({
      EndpointArn: OLD,
    });
  });

  it('leaves an endpoint that has moved to another user', async () => {
    sns.on(GetEndpointAttributesCommand).resolves({ Attributes: { CustomUserData: 'u_gus' } });
    await deleteDeviceEndpoint(OLD, 'u_fay');
    expect(sns.commandCalls(DeleteEndpointCommand)).toHaveLength(0);
  });

  it('is done when the endpoint is already gone, at the check or at the delete', async () => {
    sns.on(GetEndpointAttributesCommand).rejects(gone());
    await deleteDeviceEndpoint(OLD, 'u_fay');
    expect(sns.commandCalls(DeleteEndpointCommand)).toHaveLength(0);

    sns.reset();
    sns.on(GetEndpointAttributesCommand).resolves({ Attributes: { CustomUserData: 'u_fay' } });
    sns.on(DeleteEndpointCommand).rejects(goneUnmodelled());
    await expect(deleteDeviceEndpoint(OLD, 'u_fay')).resolves.toBeUndefined();
  });
});

describe('one application per platform', () => {
  it("makes each device's endpoint under its own platform's application", async () => {
    sns
      .on(CreatePlatformEndpointCommand, { PlatformApplicationArn: APNS_APP })
      .resolves({ EndpointArn: IOS })
      .on(CreatePlatformEndpointCommand, { PlatformApplicationArn: FCM_APP })
      .resolves({ EndpointArn: NEW });
    expect(await createDeviceEndpoint('apns', 'iphone-token', 'u_ann')).toBe(IOS);
    expect(await createDeviceEndpoint('fcm', 'pixel-token', 'u_ann')).toBe(NEW);
    expect(sns.commandCalls(CreatePlatformEndpointCommand).map((c) => c.args[0].input)).toEqual([
      { PlatformApplicationArn: APNS_APP, Token: 'iphone-token', CustomUserData: 'u_ann' },
      { PlatformApplicationArn: FCM_APP, Token: 'pixel-token', CustomUserData: 'u_ann' },
    ]);
  });

  it('sends an iOS device through APNs sandbox on a stage that has only the sandbox', async () => {
    const sandbox = 'arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/chat-dev';
    process.env.PUSH_APPLICATIONS = JSON.stringify({ apns_sandbox: sandbox });
    sns.on(CreatePlatformEndpointCommand).resolves({ EndpointArn: `${IOS}-dev` });
    await createDeviceEndpoint('apns', 'dev-build-token', 'u_ann');
    expect(
      sns.commandCalls(CreatePlatformEndpointCommand)[0]!.args[0].input.PlatformApplicationArn,
    ).toBe(sandbox);
  });

  it('makes no endpoint for a device whose platform has no application', async () => {
    process.env.PUSH_APPLICATIONS = JSON.stringify({ fcm: FCM_APP });
    expect(await createDeviceEndpoint('apns', 'iphone-token', 'u_ann')).toBeNull();
    expect(sns.calls()).toHaveLength(0);
  });

  it('pushes an iOS and an Android device of one user, each through its own application', async () => {
    sns.on(GetEndpointAttributesCommand).resolves({ Attributes: { CustomUserData: 'u_ann' } });
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    const sent = await publishPush(
      'u_ann',
      [
        { platform: 'apns', endpoint_arn: IOS },
        { platform: 'fcm', endpoint_arn: NEW },
        // Stored while the stage had no application for it: never pushed.
        { platform: 'apns', endpoint_arn: null },
      ],
      { title: 'Bob', body: 'hi', data: {} },
    );
    expect(sent).toBe(2);
    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input.TargetArn)).toEqual([
      IOS,
      NEW,
    ]);
  });

  it("pushes no device of a platform that has no application, nor one made under another platform's", async () => {
    process.env.PUSH_APPLICATIONS = JSON.stringify({ fcm: FCM_APP });
    sns.on(GetEndpointAttributesCommand).resolves({ Attributes: { CustomUserData: 'u_ann' } });
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    const sent = await publishPush(
      'u_ann',
      [
        // Its endpoint was made while the stage had an APNs application.
        { platform: 'apns', endpoint_arn: IOS },
        // Claims FCM, but its endpoint is not the FCM application's.
        { platform: 'fcm', endpoint_arn: IOS },
        { platform: 'fcm', endpoint_arn: NEW },
      ],
      { title: 'Bob', body: 'hi', data: {} },
    );
    expect(sent).toBe(1);
    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input.TargetArn)).toEqual([NEW]);
  });

  it('refuses a setting that names an application of the wrong platform, or both APNs ones', async () => {
    process.env.PUSH_APPLICATIONS = JSON.stringify({ apns: FCM_APP });
    await expect(createDeviceEndpoint('apns', 'iphone-token', 'u_ann')).rejects.toThrow(
      /"apns" must be an SNS platform application ARN/,
    );
    process.env.PUSH_APPLICATIONS = JSON.stringify({
      apns: APNS_APP,
      apns_sandbox: 'arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/chat',
    });
    await expect(createDeviceEndpoint('apns', 'iphone-token', 'u_ann')).rejects.toThrow(/not both/);
    expect(sns.calls()).toHaveLength(0);
  });
});
