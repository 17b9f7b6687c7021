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

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping (${signal})`);
    stack
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
  });
}
