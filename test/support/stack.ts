import { DEPLOYED_ASSEMBLY_ENV } from '#local/deployed/env.ts';
import { startLocalStack } from '#local/stack.ts';
import { ChatClient } from './chat-client.ts';

export type Stack = Awaited<ReturnType<typeof startLocalStack>>;

/**
 * False under `npm run test:deployed`, where the handlers are the synthesized
 * bundles in worker threads: a test that injects faults into this process's
 * AWS clients cannot reach them there.
 */
export const handlersInProcess = !process.env[DEPLOYED_ASSEMBLY_ENV];

/** Starts the whole local cloud on ephemeral ports, as `npm start` does. */
export async function startStack(options: Parameters<typeof startLocalStack>[0] = {}) {
  const stack = await startLocalStack({ httpPort: 0, wsPort: 0, ...options });
  const clients: ChatClient[] = [];
  return {
    stack,
    /** `heartbeatMs`: ping on that period while connected, as the app does every 25 s. */
    async client(userId: string, name = userId, heartbeatMs?: number): Promise<ChatClient> {
      const token = await stack.issueToken(userId, name);
      const client = new ChatClient(userId, token, stack.httpUrl, stack.wsUrl, heartbeatMs);
      clients.push(client);
      return client;
    },
    /** A client whose token's `groups` claim holds the moderator group (CONTRACT §9). */
    async moderator(userId: string): Promise<ChatClient> {
      const token = await stack.issueToken(userId, userId, { groups: ['moderators'] });
      const client = new ChatClient(userId, token, stack.httpUrl, stack.wsUrl);
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await stack.stop();
    },
  };
}
