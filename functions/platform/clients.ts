import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from './env.ts';

/*
 * Clients are created once per cold start and reused. Endpoints come from the
 * standard AWS_ENDPOINT_URL_* variables, which the local cloud sets, so the code
 * is identical on AWS and on a laptop. Each is lazy so a function only pays for
 * (and only requires the env of) the clients it uses.
 */
let documentClient: DynamoDBDocumentClient | undefined;
export function ddb(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return documentClient;
}

let tableNameValue: string | undefined;
export function tableName(): string {
  tableNameValue ??= requireEnv(ENV.tableName);
  return tableNameValue;
}

let managementClient: ApiGatewayManagementApiClient | undefined;
export function connectionsApi(): ApiGatewayManagementApiClient {
  managementClient ??= new ApiGatewayManagementApiClient({ endpoint: requireEnv(ENV.wsEndpoint) });
  return managementClient;
}

let sqsClient: SQSClient | undefined;
export function sqs(): SQSClient {
  sqsClient ??= new SQSClient({});
  return sqsClient;
}

let snsClient: SNSClient | undefined;
export function sns(): SNSClient {
  snsClient ??= new SNSClient({});
  return snsClient;
}

/** Test hook: drop cached clients so a test can point them elsewhere. */
export function resetClientsForTests(): void {
  documentClient = undefined;
  tableNameValue = undefined;
  managementClient = undefined;
  sqsClient = undefined;
  snsClient = undefined;
}
