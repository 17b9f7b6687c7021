import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { setTestEnv, testIssuer } from './support.ts';

setTestEnv();
const { cacheJwksForTests } = await import('#platform/auth.ts');
const { logger } = await import('#platform/observability.ts');
const sendHandler = (await import('#functions/http/send-message.ts')).handler;
const ddb = mockClient(DynamoDBDocumentClient);
const CIPHERTEXT = 'U0VDUkVULUNJUEhFUlRFWFQtNDI=';

let written = '';
beforeAll(() => {
  logger.setLogLevel('DEBUG');
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += chunk.toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += chunk.toString();
    return true;
  });
});
afterAll(() => vi.restoreAllMocks());

it('never writes encrypted_content to the logs, even when the send fails', async () => {
  const issuer = await testIssuer();
  cacheJwksForTests(issuer.jwks as never);
  const token = await issuer.sign({ sub: 'alice' });
  // The room exists and alice is in it; her temp_id has no receipt yet.
  ddb.on(GetCommand).callsFake((input: { Key: { sk: string } }) =>
    String(input.Key.sk).startsWith('TEMP#') || input.Key.sk === 'SUSPENSION'
      ? {}
      : {
          Item: {
            id: 'r1',
            type: 'group',
            members: { alice: 'x' },
            admins: {},
            seq: 0,
            created_at: 'x',
            updated_at: 'x',
            created_by: 'alice',
          },
        },
  );
  // The head hands out number 7, the read marker moves and the receipt is written;
  // only the put of the message itself fails, and the tombstone left for 7 is written.
  ddb.on(UpdateCommand).resolves({ Attributes: { seq: 7 } });
  ddb.on(PutCommand).callsFake((input: { Item: { sk: string; is_tombstone?: boolean } }) => {
    if (input.Item.sk.startsWith('MSG#') && !input.Item.is_tombstone) throw new Error('boom');
    return {};
  });
  const event = {
    version: '2.0',
    routeKey: 'POST /api/chat/rooms/{room_id}/messages',
    rawPath: '/api/chat/rooms/r1/messages',
    rawQueryString: '',
    headers: { authorization: `Bearer ${token}` },
    pathParameters: { room_id: 'r1' },
    body: JSON.stringify({
      temp_id: 't-secret-1',
      content: '',
      is_encrypted: true,
      encryption_key_id: 'k1',
      encrypted_content: CIPHERTEXT,
    }),
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST' }, authorizer: { jwt: { claims: { sub: 'alice' } } } },
  } as unknown as APIGatewayProxyEventV2;
  const res = (await sendHandler(event, {
    awsRequestId: 'r',
    functionName: 'f',
  } as Context)) as APIGatewayProxyStructuredResultV2;
  expect(res.statusCode).toBe(500);
  // The failure is the message's put, carrying the ciphertext in its item, and it ran once.
  const messagePuts = ddb
    .commandCalls(PutCommand)
    .filter(
      (c) =>
        String(c.args[0].input.Item?.sk).startsWith('MSG#') && !c.args[0].input.Item?.is_tombstone,
    );
  expect(messagePuts).toHaveLength(1);
  expect(JSON.stringify(messagePuts[0]!.args[0].input)).toContain(CIPHERTEXT);
  expect(written).toContain('Unhandled error');
  expect(written).toContain('boom');
  expect(written).not.toContain(CIPHERTEXT);
  expect(res.body).not.toContain(CIPHERTEXT);
});
