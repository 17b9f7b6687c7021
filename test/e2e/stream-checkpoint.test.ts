import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import { ChatClient, eventually } from '../support/chat-client.ts';
import { startStackProcess } from '../support/stack-client-process.ts';

/**
 * Issue 11 hole 10: the local stream reader keeps its checkpoint in DATA_DIR, so
 * records written while it was down (a crash, Ctrl-C) are processed after a
 * restart on the same DATA_DIR, and it resumes after the last record it finished.
 * Each run is its own process, as `npm start` would be.
 */
type Message = { message: { content: string } };
type Stack = Awaited<ReturnType<typeof startStackProcess>>;

async function client(stack: Stack, userId: string): Promise<ChatClient> {
  const res = await fetch(`${stack.httpUrl}/local/token`, {
    method: 'POST',
    body: JSON.stringify({ sub: userId }),
  });
  const { token } = (await res.json()) as { token: string };
  return new ChatClient(userId, token, stack.httpUrl, stack.wsUrl);
}

it('processes after a restart the stream records it had not reached when it stopped', async () => {
  const dataDir = mkdtempSync(`${tmpdir()}/chat-checkpoint-`);
  const checkpoint = () =>
    JSON.parse(readFileSync(`${dataDir}/stream-checkpoint.json`, 'utf8')).shards as Record<
      string,
      string | null
    >;
  let checkpointed: Record<string, string | null> = {};

  const first = await startStackProcess({ DATA_DIR: dataDir });
  try {
    const ann = await client(first, 'cp_ann');
    const roomId = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'checkpoint',
        member_ids: ['cp_bob'],
      })
    ).body.data.id;
    await ann.http('POST', `/api/chat/rooms/${roomId}/messages`, { content: 'one' });
    // The reader has been through that much: the checkpoint names a sequence number.
    await eventually(async () => expect(Object.values(checkpoint()).some(Boolean)).toBe(true));
    await new Promise((r) => setTimeout(r, 1000));

    // The reader stops as if the process died here; the API keeps storing messages
    // for Bob, who is offline: only the stream's outbox would queue them for him.
    await first.ask('pause-streams');
    checkpointed = checkpoint();
    for (const content of ['two', 'three'])
      expect(
        (await ann.http('POST', `/api/chat/rooms/${roomId}/messages`, { content })).status,
      ).toBe(201);
  } finally {
    await first.stop();
  }

  const second = await startStackProcess({ DATA_DIR: dataDir });
  try {
    // It resumed right after what the first run had finished, not at LATEST or the start.
    const [shard, sequence] = Object.entries(checkpointed).find(([, seq]) => seq) ?? [];
    expect(sequence).toBeTruthy();
    await eventually(async () => {
      const { starts } = (await second.ask('stream-starts')) as { starts: Record<string, string> };
      expect(starts[shard!]).toBe(`after:${sequence}`);
    });
    // And what was written while it was down reaches Bob.
    const bob = await client(second, 'cp_bob');
    await bob.connect();
    for (const content of ['two', 'three'])
      await bob.waitFor(
        'new-chat-message',
        (d) => (d as Message).message.content === content,
        15_000,
      );
    await bob.close();
  } finally {
    await second.stop();
  }
}, 120_000);
