import { createInterface } from 'node:readline';
import { startLocalStack } from '#local/stack.ts';

/**
 * One local stack in its own process, driven over stdin/stdout (one JSON line
 * each way). The Lambda modules keep their AWS clients for the life of a process,
 * as on AWS, so a test that restarts the stack on the same DATA_DIR needs a new
 * process for each run. Answers are prefixed so the stack's own logs can mix in.
 */
const PREFIX = '@stack ';
const say = (value: object) => process.stdout.write(`${PREFIX}${JSON.stringify(value)}\n`);

const stack = await startLocalStack({
  httpPort: 0,
  wsPort: 0,
  dataDir: process.env.DATA_DIR || undefined,
});
say({ op: 'ready', httpUrl: stack.httpUrl, wsUrl: stack.wsUrl });

for await (const line of createInterface({ input: process.stdin })) {
  const { op } = JSON.parse(line) as { op: string };
  if (op === 'pause-streams') {
    await stack.pauseStreams();
    say({ op });
  } else if (op === 'stream-starts') {
    say({ op, starts: Object.fromEntries(stack.streamStarts) });
  } else if (op === 'stop') {
    await stack.stop();
    say({ op });
    process.exit(0);
  }
}
