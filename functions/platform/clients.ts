import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from './env.ts';

/*
 * The DynamoDB client, created once per cold start and reused. Its endpoint
 * comes from the standard AWS_ENDPOINT_URL_DYNAMODB, which the local cloud sets,
 * so the code is identical on AWS and on a laptop. The other services' clients
 * live beside the one module that uses each (post-to-connection, queues, push),
 * so a function loads only the SDK clients it needs: each costs cold-start time.
 */
let documentClient: DynamoDBDocumentClient | undefined;
export function ddb(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: {
      removeUndefinedValues: true,
      convertEmptyValues: false,
      // The marshaller tells a plain object by `value.constructor.name`, so a map with
      // a key named "constructor" (a member map with a user of that id) would fail:
      // every object is a map here, whatever its keys.
      convertClassInstanceToMap: true,
    },
  });
  return documentClient;
}

let tableNameValue: string | undefined;
export function tableName(): string {
  tableNameValue ??= requireEnv(ENV.tableName);
  return tableNameValue;
}
