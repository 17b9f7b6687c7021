import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SWEEP_HELD_METRIC } from '#platform/sweep-metrics.ts';

/**
 * Alarms to an SNS topic: any message in a DLQ (something could not be
 * delivered or counted), errors or throttles of the background functions, and
 * a presence sweep that held silent connections (functions/domain/presence.ts,
 * SILENCE_BREAKER).
 *
 * The topic is encrypted with a customer-managed key whose policy lets
 * CloudWatch use it: CloudWatch cannot publish to a topic encrypted with the
 * AWS-managed `alias/aws/sns` key (its policy admits only principals of the
 * account), so every alarm would fire into silence.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: Topic;
  readonly alarmKey: Key;
  private readonly action: SnsAction;

  constructor(
    scope: Construct,
    id: string,
    props: { alarmEmail?: string | undefined; retain: boolean },
  ) {
    super(scope, id);
    this.alarmKey = new Key(this, 'AlarmKey', {
      description: 'Encrypts the alarm topic; CloudWatch may use it to publish alarms',
      enableKeyRotation: true,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.alarmKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      masterKey: this.alarmKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.action = new SnsAction(this.alarmTopic);
    this.alarmOnSweepBreaker();
  }

  /**
   * A sweep found most connections silent and closed none: either clients
   * vanished together (an outage) or GetConnection's lastActiveAt does not count
   * the gateway-answered `ping`, and dead connections now linger until API
   * Gateway's own 10-minute idle close. Its first value alarms. The metric is
   * Powertools' EMF, under the namespace and `service` dimension every function
   * is given (lib/chat-function.ts: POWERTOOLS_METRICS_NAMESPACE 'Chat',
   * POWERTOOLS_SERVICE_NAME 'chat'; test/infra/sweep-alarm.test.ts holds them equal).
   */
  private alarmOnSweepBreaker() {
    new Alarm(this, 'SweepHeldSilentConnections', {
      metric: new Metric({
        namespace: 'Chat',
        metricName: SWEEP_HELD_METRIC,
        dimensionsMap: { service: 'chat' },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'The presence sweep found most connections silent and closed none: GetConnection lastActiveAt may not count heartbeats (docs/architecture.md, Real-time delivery)',
    }).addAlarmAction(this.action);
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
