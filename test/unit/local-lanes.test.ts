import { afterEach, describe, expect, it } from 'vitest';
import {
  invokeInLane,
  LANE_CONCURRENCY,
  laneOf,
  type Runtime,
  useRuntime,
} from '#local/lambda-runtime.ts';

/**
 * The local runtime's lanes stand in for Lambda's container per invocation: one
 * caller's flood waits in its own lane, and another caller's request starts at
 * once (bench/noisy-neighbour.ts measures what that means for latency).
 */
function blockingRuntime() {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const runtime: Runtime = {
    invoke: (_handler, event) =>
      new Promise((done) => {
        const id = (event as { id: string }).id;
        started.push(id);
        release.set(id, () => done(id));
      }),
    warm: async () => undefined,
  };
  return { runtime, started, release: (id: string) => release.get(id)?.() };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => useRuntime(undefined));

describe('local invocation lanes', () => {
  it("holds one caller's flood in its lane while another caller starts at once, in arrival order", async () => {
    const fake = blockingRuntime();
    useRuntime(fake.runtime);
    const flood = Array.from({ length: 10 }, (_, i) =>
      invokeInLane('u_flood', 'ws/send-message', { id: `f${i}` }),
    );
    await tick();
    expect(fake.started).toEqual(Array.from({ length: LANE_CONCURRENCY }, (_, i) => `f${i}`));
    expect(laneOf('u_flood')).toEqual({
      running: LANE_CONCURRENCY,
      waiting: 10 - LANE_CONCURRENCY,
    });

    const honest = invokeInLane('u_honest', 'ws/send-message', { id: 'h0' });
    await tick();
    expect(fake.started.at(-1)).toBe('h0');
    fake.release('h0');
    expect(await honest).toBe('h0');

    // Each finish hands its slot to the next frame of the same lane, never more in flight.
    fake.release('f0');
    await tick();
    expect(fake.started.at(-1)).toBe(`f${LANE_CONCURRENCY}`);
    expect(laneOf('u_flood').running).toBe(LANE_CONCURRENCY);
    for (let i = 1; i < 10; i++) {
      fake.release(`f${i}`);
      await tick();
    }
    expect(await Promise.all(flood)).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    expect(fake.started.filter((id) => id.startsWith('f'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `f${i}`),
    );
    expect(laneOf('u_flood')).toEqual({ running: 0, waiting: 0 });
  });

  it('a failing invocation frees its slot', async () => {
    useRuntime({
      invoke: async () => {
        throw new Error('boom');
      },
      warm: async () => undefined,
    });
    const results = await Promise.allSettled(
      Array.from({ length: LANE_CONCURRENCY * 2 }, () => invokeInLane('u_fail', 'ws/x', {})),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(laneOf('u_fail')).toEqual({ running: 0, waiting: 0 });
  });
});
