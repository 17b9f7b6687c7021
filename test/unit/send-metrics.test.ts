import { afterAll, describe, expect, it, vi } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
// Powertools Metrics writes its EMF lines through a Console on process.stdout.
const lines: string[] = [];
const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
  lines.push(String(chunk));
  return true;
});
const { recordSend, METRICS_FLUSH_MS } = await import('#platform/metrics.ts');
afterAll(() => write.mockRestore());

const emf = () =>
  lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const sent = { delivered_to_count: 2, queued_for_count: 1, duplicate: false };

describe('send metrics (issue 24: not one log line per message)', () => {
  it("gathers a container's sends and publishes them as one EMF line a minute, every value kept", () => {
    const start = Date.now();
    for (let i = 0; i < 30; i++) recordSend(sent, start + i * 1000);
    expect(emf()).toHaveLength(0);
    recordSend(sent, start + METRICS_FLUSH_MS);
    const published = emf();
    expect(published).toHaveLength(1);
    expect(published[0]!.MessagesSent).toEqual(Array(31).fill(1));
    expect(published[0]!.MembersDeliveredLive).toEqual(Array(31).fill(2));
    expect(published[0]!.MembersQueued).toEqual(Array(31).fill(1));
  });

  it('publishes by itself once a metric holds 100 values, losing none', () => {
    lines.length = 0;
    const start = Date.now();
    for (let i = 0; i < 150; i++) recordSend(sent, start + i);
    const published = emf();
    expect(published).toHaveLength(1);
    expect(published[0]!.MessagesSent).toHaveLength(100);
  });
});
