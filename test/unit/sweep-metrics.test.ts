import { afterAll, expect, it, vi } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_METRICS_NAMESPACE = 'Chat';
process.env.POWERTOOLS_SERVICE_NAME = 'chat';
// Powertools Metrics writes its EMF lines through a Console on process.stdout.
const lines: string[] = [];
const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
  lines.push(String(chunk));
  return true;
});
const { recordSweepHeld, SWEEP_HELD_METRIC } = await import('#platform/sweep-metrics.ts');
afterAll(() => write.mockRestore());

it("publishes a breaker trip at once, as the metric lib/monitoring.ts alarms on (namespace 'Chat', dimension service=chat)", () => {
  recordSweepHeld(20);
  const emf = lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: unknown });
  expect(emf).toHaveLength(1);
  expect(emf[0]).toMatchObject({
    [SWEEP_HELD_METRIC]: 20,
    service: 'chat',
    _aws: {
      CloudWatchMetrics: [
        {
          Namespace: 'Chat',
          Dimensions: [['service']],
          Metrics: [{ Name: SWEEP_HELD_METRIC, Unit: 'Count' }],
        },
      ],
    },
  });
});
