import { RemovalPolicy } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * API Gateway's account-level CloudWatch role (`AWS::ApiGateway::Account`). A
 * WebSocket stage that writes access logs cannot be created until the account
 * has one, so a first deploy to a fresh account and region fails without it.
 *
 * The setting is per account and region, shared by every API there: the role is
 * retained when the stack is deleted, so other stacks' logging keeps working
 * (CloudFormation leaves the account setting in place on delete too). Where the
 * account already has a role, `-c apiGatewayCloudWatchRole=false` skips this.
 */
export class ApiGatewayAccount extends Construct {
  readonly account: CfnAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const role = new Role(this, 'CloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway account setting: writes execution and access logs to CloudWatch',
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.account = new CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
  }
}
