import { startLocalStack } from './stack.ts';

/** `npm start`: the whole backend on this machine (the README's local setup, "Set up"). */
const port = (name: string, fallback: number) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
};

const stack = await startLocalStack({
  httpPort: port('HTTP_PORT', 3000),
  wsPort: port('WS_PORT', 3001),
  graceSeconds: port('PRESENCE_GRACE_SECONDS', 30),
  dataDir: process.env.DATA_DIR || undefined,
  duplicateDelivery: process.env.LOCAL_DUPLICATE_DELIVERY === '1',
  onProgress: (step) => console.log(step),
});

const token = `curl -s -XPOST ${stack.httpUrl}/local/token -d '{"sub":"u_alice","name":"Alice"}'`;
console.log(
  `ready http=${stack.httpUrl} ws=${stack.wsUrl} table=${stack.tableName} | get a token: ${token}`,
);
console.log(`API reference: ${stack.httpUrl}/docs  playground: ${stack.httpUrl}/playground`);

/**
 * Every way this process can end stops the stack first, so DynamoDB Local (a
 * Java child) never outlives it: a signal, or a crash (logged, exit 1). A stop
 * that hangs is cut short; the child is then killed on exit (local/dynamodb.ts).
 */
let stopping = false;
function shutdown(reason: string, code: number) {
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${reason})`);
  setTimeout(() => process.exit(code || 1), 10_000).unref();
  stack
    .stop()
    .then(() => process.exit(code))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => shutdown(signal, 0));
}
// `npm start` runs this under wrappers (npm, node22.mjs, tsx) that relay only SIGINT and
// SIGTERM: when one of them dies another way (SIGHUP, SIGKILL) this process is orphaned.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown('parent process gone', 0);
}, 1000).unref();
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    console.error(`${event}:`, error);
    shutdown(event, 1);
  });
}
