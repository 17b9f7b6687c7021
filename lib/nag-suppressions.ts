import { type CfnResource, type Stack, Token, Validations } from 'aws-cdk-lib';
import type { WebSocketApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { ATTACHMENT_KEY_PREFIX } from '#platform/attachment-layout.ts';

/**
 * cdk-nag findings reviewed and accepted, each with its reason; the
 * acknowledgements name the finding, so a new, different finding still fails.
 */
export function acknowledgeReviewedFindings(
  stack: Stack,
  scoped: { table: Table; webSocketApi: WebSocketApi; stageName: string; attachments: Bucket },
) {
  const ack = (id: string, reason: string) => Validations.of(stack).acknowledge({ id, reason });
  const logicalId = (resource: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(resource.node.defaultChild as CfnResource);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  // The CDK CLI passes the account of the credentials (CDK_DEFAULT_ACCOUNT): ARNs then name it.
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  for (const method of ['POST', 'GET', 'DELETE']) {
    ack(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${region}:${account}:<${logicalId(scoped.webSocketApi)}>/${scoped.stageName}/${method}/@connections/*]`,
      `${method} on connections of this API stage only (functions/access.ts says which function may post, read or close): connection ids are not known in advance.`,
    );
  }
  ack(
    `AwsSolutions-IAM5[Resource::<${logicalId(scoped.attachments)}.Arn>/${ATTACHMENT_KEY_PREFIX}*]`,
    'Attachment files of this bucket only, under rooms/ (functions/access.ts says which function may sign uploads, read, retag or delete): file keys are made per upload.',
  );
  ack(
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'Lambda execution roles use AWSLambdaBasicExecutionRole to write their own log groups.',
  );
  ack(
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    "API Gateway's account-level CloudWatch role uses the AWS-managed policy made for it: the setting serves every API in the account and region, so it cannot be scoped to this stack's log groups.",
  );
  ack(
    'AwsSolutions-IAM5[Resource::*]',
    'Actions AWS authorizes only on "*": X-Ray tracing (xray:PutTraceSegments), the DynamoDB stream listing (dynamodb:ListStreams), and SNS mobile push (CreatePlatformEndpoint, Get/SetEndpointAttributes, DeleteEndpoint, and Publish to a device TargetArn), which only the functions that register devices or send pushes get.',
  );
  ack(
    'AwsSolutions-APIG4',
    'HTTP routes verify the JWT inside each handler with aws-jwt-verify, so errors use the contract envelope; WebSocket routes are authorized once, at $connect, by the Lambda authorizer.',
  );
  ack(
    'AwsSolutions-SQS3',
    'The flagged queues are themselves dead-letter queues (and the stream on-failure destination).',
  );
  ack(
    'AwsSolutions-SMG4',
    'The cursor key only seals pagination cursors; rotating it would merely invalidate cursors in flight (clients reload the list), so it has no rotation Lambda.',
  );
  ack(
    'AwsSolutions-L1',
    'Node.js 22 is the runtime the local stack and the test suite run on; moving to 24 is a separate, tested change.',
  );
}
