import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  NotFoundException,
  SetEndpointAttributesCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
process.env.PUSH_PLATFORM_APPLICATION_ARN = 'arn:aws:sns:us-east-1:1:app/GCM/chat';
const { createDeviceEndpoint, deleteDeviceEndpoint } = await import('#platform/push.ts');
const sns = mockClient(SNSClient);

const OLD = 'arn:aws:sns:us-east-1:1:endpoint/GCM/chat/old';
const NEW = 'arn:aws:sns:us-east-1:1:endpoint/GCM/chat/new';
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

beforeEach(() => sns.reset());

describe('registering a token another user holds', () => {
  it('moves the endpoint to the new user', async () => {
    // Prepare
    sns.on(CreatePlatformEndpointCommand).rejects(taken(OLD));
    sns.on(SetEndpointAttributesCommand).resolves({});
    // Act
    const arn = await createDeviceEndpoint('phone-token', 'u_gus');
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
    const arn = await createDeviceEndpoint('phone-token', 'u_gus');
    // Assess
    expect(arn).toBe(NEW);
    expect(sns.commandCalls(CreatePlatformEndpointCommand)).toHaveLength(2);
  });

  it('gives up after a bounded number of attempts', async () => {
    sns.on(CreatePlatformEndpointCommand).rejects(taken(OLD));
    sns.on(SetEndpointAttributesCommand).rejects(gone());
    await expect(createDeviceEndpoint('phone-token', 'u_gus')).rejects.toThrow(
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
