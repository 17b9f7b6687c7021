import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * CloudWatch metrics (EMF) of the send routes and the presence sweep. Kept apart
 * from the logger (observability.ts) so only the functions that record them
 * bundle and load Powertools Metrics (~10 KB, created at cold start).
 */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Chat',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'chat',
});

/**
 * A container's sends are published together: one EMF line carries each
 * metric's values (up to Powertools' 100 a line) instead of one log line per
 * message, which CloudWatch Logs would bill per message (issue 24). Published
 * once a minute at most, or when a metric holds 100 values (Powertools then
 * publishes by itself); a container that ends keeps what it gathered since its
 * last publish unpublished, under a minute of one container's sends.
 */
export const METRICS_FLUSH_MS = 60_000;
let lastPublished = Date.now();

/** Delivery outcome of one send, as CloudWatch metrics (EMF); only the send routes emit them. */
export function recordSend(
  outcome: { delivered_to_count: number; queued_for_count: number; duplicate: boolean },
  now = Date.now(),
) {
  if (outcome.duplicate) {
    metrics.addMetric('SendsRepeated', MetricUnit.Count, 1);
  } else {
    metrics.addMetric('MessagesSent', MetricUnit.Count, 1);
    metrics.addMetric('MembersDeliveredLive', MetricUnit.Count, outcome.delivered_to_count);
    metrics.addMetric('MembersQueued', MetricUnit.Count, outcome.queued_for_count);
  }
  if (now - lastPublished >= METRICS_FLUSH_MS) {
    metrics.publishStoredMetrics();
    lastPublished = now;
  }
}
