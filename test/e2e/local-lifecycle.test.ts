import { execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#local/ports.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** `npm start` itself (a real process), and the local cloud's duplicate-delivery switch. */
function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=']).toString();
  const children = out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of children) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('prints ready, answers /local/health, and on SIGTERM stops leaving no child process', async () => {
    const [httpPort, wsPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [resolve('node_modules/tsx/dist/cli.mjs'), 'local/main.ts'],
      {
        env: { ...process.env, HTTP_PORT: String(httpPort), WS_PORT: String(wsPort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    await new Promise<void>((done, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/^ready/m.test(output)) done();
      });
      child.once('exit', (code) => fail(new Error(`exited ${code}: ${output}`)));
    });
    expect((await fetch(`http://127.0.0.1:${httpPort}/local/health`)).status).toBe(200);
    const jwks = (await (
      await fetch(`http://127.0.0.1:${httpPort}/local/.well-known/jwks.json`)
    ).json()) as { keys: { kty: string; d?: string }[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA' });
    expect(jwks.keys[0]!.d).toBeUndefined();

    const spawned = descendants(child.pid!);
    expect(spawned.length).toBeGreaterThan(0);
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await eventually(async () => expect(spawned.filter(alive)).toEqual([]), 10_000);
  });
});

describe('duplicate delivery (every stream and queue batch delivered twice)', () => {
  let env: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    env = await startStack({ duplicateDelivery: true });
  });
  afterAll(async () => env?.stop());

  it('keeps unread counts exact and delivers queued messages once per id', async () => {
    const [ann, bob] = await Promise.all([env.client('dup_ann'), env.client('dup_bob')]);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'd',
        member_ids: ['dup_bob'],
      })
    ).body.data;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (
          await ann.http<{ id: string }>('POST', `/api/chat/rooms/${room.id}/messages`, {
            content: `m${i}`,
          })
        ).body.data.id,
      );
    await ann.http('DELETE', `/api/chat/messages/${ids[0]}`);
    await eventually(async () => {
      const counts = (await bob.http<{ total_unread: number }>('GET', '/api/chat/unread-count'))
        .body.data;
      expect(counts.total_unread).toBe(3);
    });
    await bob.connect();
    for (const id of ids.slice(1))
      await bob.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === id);
    await new Promise((r) => setTimeout(r, 500));
    const received = bob
      .eventsNamed('new-chat-message')
      .map((f) => (f.data.message as { id: string }).id);
    // The message deleted while Bob was away is not delivered from the queue.
    expect(new Set(received)).toEqual(new Set(ids.slice(1)));
  });
});
