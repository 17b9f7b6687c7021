import { RemovalPolicy } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * API Gateway's account-level CloudWatch role (`AWS::ApiGateway::Account`). A
 * WebSocket stage that writes access logs cannot be created until the account
 * has one, so a first deploy to a fresh account and region fails without it.
 *
 * The setting is per account and region, shared by every API there: the role and
 * the Account resource are retained when the stack is deleted, so other stacks'
 * logging keeps working (CloudFormation leaves the account setting in place on
 * delete, and the role it names stays). Where the account already has a role (a
 * second stack of this app, another app), `-c apiGatewayCloudWatchRole=false`
 * skips this. Two stacks that both set it each point the account at their own
 * role: the last deploy wins, both roles can write logs, and the other stack's
 * template drifts. Synth cannot tell (no context lookup reads API Gateway's
 * account); `aws apigateway get-account` before the first deploy does.
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
    // As CDK's RestApi does (cloudWatchRoleRemovalPolicy): deleting the stack leaves the setting.
    this.account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
