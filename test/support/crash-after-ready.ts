/**
 * `npm start`'s entry (local/main.ts), then the crash CRASH names once it is
 * ready: `uncaught` throws, `rejection` leaves a promise rejected. For the test
 * that no DynamoDB Local outlives the process (test/e2e/local-lifecycle.test.ts).
 */
await import('#local/main.ts');
const crash = process.env.CRASH;
setTimeout(() => {
  if (crash === 'uncaught') throw new Error('crash for the test');
  if (crash === 'rejection') void Promise.reject(new Error('crash for the test'));
}, 50);
