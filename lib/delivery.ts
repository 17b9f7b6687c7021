import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queues } from '#functions/routes.ts';
import { idFor } from './chat-function.ts';

/** Consumers' timeout; SQS visibility must be at least six times it. */
export const CONSUMER_TIMEOUT = Duration.seconds(30);

/**
 * Delivery plumbing: one SQS queue per route-table queue, each with its DLQ
 * (redrive after `maxReceiveCount`), the queue that catches stream records that
 * kept failing. (Pushes go to each device's own SNS endpoint, functions/platform/push.ts:
 * there is no shared push topic.)
 */
export class Delivery extends Construct {
  readonly queues = new Map<string, Queue>();
  readonly deadLetterQueues: Queue[] = [];
  readonly streamFailures: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    for (const definition of queues) {
      const dlq = this.secureQueue(`${idFor(definition.id)}Dlq`, Duration.days(14));
      const queue = new Queue(this, idFor(definition.id), {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: dlq, maxReceiveCount: definition.maxReceiveCount },
      });
      this.queues.set(definition.env, queue);
      this.deadLetterQueues.push(dlq);
    }
    this.streamFailures = this.secureQueue('StreamFailures', Duration.days(14));
    this.deadLetterQueues.push(this.streamFailures);
  }

  private secureQueue(id: string, retention: Duration) {
    return new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: retention,
    });
  }
}
