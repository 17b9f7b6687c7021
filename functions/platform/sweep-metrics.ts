import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics } from './metrics.ts';

/**
 * Connections a presence sweep found silent but did not close, because so many
 * looked silent that GetConnection's lastActiveAt cannot be tracking the
 * heartbeats (domain/presence.ts, SILENCE_BREAKER). lib/monitoring.ts alarms on
 * its first value.
 */
export const SWEEP_HELD_METRIC = 'SweepSilentConnectionsHeld';

/** One trip of the sweep's breaker, as a CloudWatch metric (EMF), published at once. */
export function recordSweepHeld(held: number) {
  metrics.addMetric(SWEEP_HELD_METRIC, MetricUnit.Count, held);
  metrics.publishStoredMetrics();
}
