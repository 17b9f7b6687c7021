import { Alias } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * What an operator needs to act on abuse (CONTRACT §9, docs/safety.md "Reports"): a
 * topic that hears of every new report. Subscribe an email address at deploy
 * time (`-c reportsEmail=…`), or anything SNS delivers to (a ticketing
 * webhook over HTTPS, a queue) afterwards. Encrypted with the account's
 * AWS-managed SNS key: only this account's functions publish to it, and those
 * need no KMS grant for that key.
 */
export class Safety extends Construct {
  readonly reportsTopic: Topic;

  constructor(scope: Construct, id: string, props: { reportsEmail?: string | undefined }) {
    super(scope, id);
    this.reportsTopic = new Topic(this, 'ReportsTopic', {
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.reportsEmail)
      this.reportsTopic.addSubscription(new EmailSubscription(props.reportsEmail));
  }
}
