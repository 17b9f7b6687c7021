import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/**
 * EventBridge rules for the scheduled functions (the presence sweeper). The
 * precise end of a grace period is a delayed SQS message; the rule is the
 * backstop that also catches connections whose $disconnect never came.
 */
export class Schedules extends Construct {
  add(name: string, fn: IFunction, everySeconds: number) {
    new Rule(this, `${name}Rule`, {
      // EventBridge rates start at one minute.
      schedule: Schedule.rate(Duration.seconds(Math.max(60, everySeconds))),
      targets: [new LambdaFunction(fn, { retryAttempts: 2 })],
    });
  }
}
