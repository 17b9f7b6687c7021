import { startLocalAws } from '#local/stack.ts';

/** DynamoDB Local + fauxqs for one test file, with env pointing the functions' code at them. */
export async function localAws() {
  const aws = await startLocalAws();
  // No client connects in integration tests: nothing is ever posted here.
  process.env.WS_ENDPOINT = 'http://127.0.0.1:9';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return aws;
}

export const caller = (userId: string) => ({ userId, name: userId.toUpperCase() });
