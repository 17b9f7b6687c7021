import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, expect, it } from 'vitest';
import { SWEEP_HELD_METRIC } from '#platform/sweep-metrics.ts';
import { ChatFunction } from '../../lib/chat-function.ts';
import { Monitoring } from '../../lib/monitoring.ts';

/**
 * The sweep's breaker (functions/domain/presence.ts, SILENCE_BREAKER) records
 * SWEEP_HELD_METRIC through Powertools; the alarm must name the metric exactly
 * as the sweeper publishes it: its namespace and `service` dimension come from
 * the environment ChatFunction gives every function.
 */
let template: Template;

beforeAll(() => {
  const app = new App();
  const stack = new Stack(app, 'SweepAlarm', {
    env: { region: 'eu-west-1', account: '123456789012' },
  });
  new Monitoring(stack, 'Monitoring', { retain: false });
  new ChatFunction(stack, {
    handler: 'schedules/presence-sweeper',
    environment: {},
    retainLogs: false,
  });
  template = Template.fromStack(stack);
});

it("alarms on the sweeper's first held connection, under the sweeper's metric namespace and service", () => {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
  const env = (fn as { Properties: { Environment: { Variables: Record<string, string> } } })
    .Properties.Environment.Variables;
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
    (a) =>
      (a as { Properties: { MetricName: string } }).Properties.MetricName === SWEEP_HELD_METRIC,
  );
  expect(alarms).toHaveLength(1);
  expect((alarms[0] as { Properties: unknown }).Properties).toMatchObject({
    Namespace: env.POWERTOOLS_METRICS_NAMESPACE,
    Dimensions: [{ Name: 'service', Value: env.POWERTOOLS_SERVICE_NAME }],
    Statistic: 'Sum',
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: expect.stringContaining('AlarmTopic') }],
  });
});
