import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The send routes' CloudWatch metrics (EMF). Kept apart from the logger
 * (observability.ts) so only the functions that record a send bundle and load
 * Powertools Metrics (~10 KB, created at cold start).
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Chat',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'chat',
});

/**
 * Delivery outcome of one send, as CloudWatch metrics (EMF), published at once:
 * only the send routes emit metrics, so no other invocation logs an empty set.
 */
export function recordSend(outcome: {
  delivered_to_count: number;
  queued_for_count: number;
  duplicate: boolean;
}) {
  if (outcome.duplicate) {
    metrics.addMetric('SendsRepeated', MetricUnit.Count, 1);
  } else {
    metrics.addMetric('MessagesSent', MetricUnit.Count, 1);
    metrics.addMetric('MembersDeliveredLive', MetricUnit.Count, outcome.delivered_to_count);
    metrics.addMetric('MembersQueued', MetricUnit.Count, outcome.queued_for_count);
  }
  metrics.publishStoredMetrics();
}
