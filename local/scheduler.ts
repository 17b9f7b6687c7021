import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import type { ScheduleDefinition } from '#functions/routes.ts';
import { invoke } from './lambda-runtime.ts';

/** EventBridge rate rules: each scheduled function runs every `everySeconds`, never overlapping itself. */
export function startScheduler(
  schedules: readonly ScheduleDefinition[],
  everySecondsOverride?: number,
) {
  const timers = schedules.map((schedule) => {
    let busy: Promise<unknown> | undefined;
    const timer = setInterval(
      () => {
        if (busy) return;
        const event: ScheduledEvent = {
          version: '0',
          id: randomUUID(),
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: '000000000000',
          time: new Date().toISOString(),
          region: 'us-east-1',
          resources: [
            `arn:aws:events:us-east-1:000000000000:rule/${schedule.handler.replaceAll('/', '-')}`,
          ],
          detail: {},
        };
        busy = invoke(schedule.handler, event)
          .catch((error: unknown) => console.error(`[schedule] ${schedule.handler} failed`, error))
          .finally(() => {
            busy = undefined;
          });
      },
      (everySecondsOverride ?? schedule.everySeconds) * 1000,
    );
    return { timer, running: () => busy };
  });
  return {
    async stop() {
      for (const t of timers) clearInterval(t.timer);
      await Promise.allSettled(timers.map((t) => t.running()));
    },
  };
}
