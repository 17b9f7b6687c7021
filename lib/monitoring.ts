import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Alarms to an SNS topic: any message in a DLQ (something could not be
 * delivered or counted), and errors or throttles of the background functions.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: Topic;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: { alarmEmail?: string | undefined }) {
    super(scope, id);
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.alarmTopic);
  }

  alarmOnDlq(queue: Queue, name: string) {
    const alarm = new Alarm(this, `${name}NotEmpty`, {
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `${name} has messages that could not be processed`,
    });
    alarm.addAlarmAction(this.action);
  }

  alarmOnFunction(fn: IFunction, name: string) {
    for (const [kind, metric] of [
      ['Errors', fn.metricErrors({ period: Duration.minutes(5) })],
      ['Throttles', fn.metricThrottles({ period: Duration.minutes(5) })],
    ] as const) {
      new Alarm(this, `${name}${kind}`, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(this.action);
    }
  }
}
