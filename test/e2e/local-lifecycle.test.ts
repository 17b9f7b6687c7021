import { execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, eventually } from '../support/chat-client.ts';
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

/**
 * Runs `npm start`'s entry (or `entry`) as its own process and waits for its ready line.
 * Ports default to 0: the process binds what the OS gives it (a port chosen free here
 * could be taken by another test's stack before the child binds it), and the ready line
 * says which. stderr is kept too, so a start that fails says why.
 */
async function startProcess(env: Record<string, string> = {}, entry = 'local/main.ts') {
  const child = spawn(process.execPath, [resolve('node_modules/tsx/dist/cli.mjs'), entry], {
    env: { ...process.env, HTTP_PORT: '0', WS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const ready = await new Promise<RegExpExecArray>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^ready http=(\S+) ws=(\S+)/m.exec(output);
      if (line) done(line);
    });
    child.once('exit', (code) => fail(new Error(`exited ${code}: ${output}`)));
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    pid: child.pid!,
    exited,
    kill: (signal: NodeJS.Signals) => child.kill(signal),
    http: ready[1]!,
    ws: ready[2]!,
    output: () => output,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('npm start', () => {
  it('prints progress, then ready with how to get a token, answers /local/health, and on SIGTERM stops leaving no child process', async () => {
    const started = await startProcess();
    const lines = started.output().split('\n');
    const readyAt = lines.findIndex((line) => line.startsWith('ready'));
    expect(readyAt).toBeGreaterThan(0);
    // Start-up takes a while (Java, the emulator, the handlers): it says what it is doing first.
    const before = lines.slice(0, readyAt);
    const dynamoAt = before.findIndex((l) => l.startsWith('starting DynamoDB Local'));
    const handlersAt = before.findIndex((l) => /^loading the \d+ Lambda handlers/.test(l));
    expect(dynamoAt, started.output()).toBeGreaterThanOrEqual(0);
    expect(handlersAt, started.output()).toBeGreaterThan(dynamoAt);
    // The ready line says where it listens and how to get a token, and that command works.
    const ready = lines[readyAt]!;
    expect(ready).toContain(`http=${started.http} ws=${started.ws}`);
    const how = /get a token: curl -s -XPOST (\S+) -d '(.+)'$/.exec(ready);
    expect(how, ready).not.toBeNull();
    expect(how![1]).toBe(`${started.http}/local/token`);
    const issued = await fetch(how![1]!, { method: 'POST', body: how![2] });
    expect(issued.status).toBe(200);
    const { token } = (await issued.json()) as { token: string };
    const me = new ChatClient('u_alice', token, started.http, started.ws);
    expect((await me.http('GET', '/api/chat/rooms')).status).toBe(200);
    expect((await fetch(`${started.http}/local/health`)).status).toBe(200);
    const jwks = (await (await fetch(`${started.http}/local/.well-known/jwks.json`)).json()) as {
      keys: { kty: string; d?: string }[];
    };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA' });
    expect(jwks.keys[0]!.d).toBeUndefined();

    const spawned = descendants(started.pid);
    expect(spawned.length).toBeGreaterThan(0);
    expect(await started.stop()).toBe(0);
    await eventually(async () => expect(spawned.filter(alive)).toEqual([]), 10_000);
  });
});

describe('a crash of npm start leaves no DynamoDB Local behind', () => {
  const java = (pid: number) =>
    descendants(pid).filter((child) => {
      try {
        return (
          execFileSync('ps', ['-o', 'comm=', '-p', String(child)])
            .toString()
            .trim() === 'java'
        );
      } catch {
        return false;
      }
    });
  const cases: [string, Record<string, string>, NodeJS.Signals | undefined][] = [
    ['an uncaught exception', { CRASH: 'uncaught' }, undefined],
    ['an unhandled rejection', { CRASH: 'rejection' }, undefined],
    ['SIGHUP (the terminal closed)', {}, 'SIGHUP'],
    ['SIGINT', {}, 'SIGINT'],
    // Sent to the node process that runs the stack (tsx's child), which owns the Java one.
    ['SIGKILL (no handler can run)', {}, 'SIGKILL'],
  ];
  for (const [name, env, signal] of cases) {
    it(name, async () => {
      const started = await startProcess(env, 'test/support/crash-after-ready.ts');
      const children = java(started.pid);
      expect(children.length, started.output()).toBe(1);
      if (signal === 'SIGKILL') {
        const owner = execFileSync('ps', ['-o', 'ppid=', '-p', String(children[0])]).toString();
        process.kill(Number(owner.trim()), 'SIGKILL');
      } else if (signal) started.kill(signal);
      const code = await started.exited;
      if (!signal) expect(code, started.output()).toBe(1);
      await eventually(async () => expect(children.filter(alive)).toEqual([]), 10_000);
    });
  }
});

describe('DATA_DIR', () => {
  it('keeps rooms, messages and the sign-in key between runs of npm start', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dataDir = mkdtempSync(`${tmpdir()}/chat-data-`);
    const first = await startProcess({ DATA_DIR: dataDir });
    const { token } = (await (
      await fetch(`${first.http}/local/token`, { method: 'POST', body: '{"sub":"keep_ann"}' })
    ).json()) as { token: string };
    const ann = new ChatClient('keep_ann', token, first.http, first.ws);
    const room = (
      await ann.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'kept',
        member_ids: [],
      })
    ).body.data;
    await ann.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'still here' });
    await first.stop();

    // Same ports: the token's issuer is the local HTTP address.
    const second = await startProcess({
      DATA_DIR: dataDir,
      HTTP_PORT: new URL(first.http).port,
      WS_PORT: new URL(first.ws).port,
    });
    try {
      // The token from the first run still verifies: the issuer key was kept too.
      const again = new ChatClient('keep_ann', token, second.http, second.ws);
      const listed = await again.http<{ messages: { content: string }[] }>(
        'GET',
        `/api/chat/rooms/${room.id}/messages`,
      );
      expect(listed.status).toBe(200);
      expect(listed.body.data.messages.map((m) => m.content)).toEqual(['still here']);
    } finally {
      await second.stop();
    }
  });
});

describe('duplicate delivery (every stream and queue batch delivered twice)', () => {
  let env: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    env = await startStack({ duplicateDelivery: true });
  });
  afterAll(async () => env?.stop());

  it('keeps unread counts exact and delivers each queued message (at least once, counted) but never the deleted one', async () => {
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
    // A live message after the flush, waited for: every copy of the flush's (delivered
    // twice here) has had its turn once the stream has carried this one as well.
    const marker = (
      await ann.http<{ id: string }>('POST', `/api/chat/rooms/${room.id}/messages`, {
        content: 'after the flush',
      })
    ).body.data.id;
    await bob.waitFor('new-chat-message', (d) => (d.message as { id: string }).id === marker);
    await new Promise((r) => setTimeout(r, 500));
    const received = bob
      .eventsNamed('new-chat-message')
      .map((f) => (f.data.message as { id: string }).id);
    const counts = new Map<string, number>();
    for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
    // Counted, not a set. Every queued message arrives, and the message deleted while
    // Bob was away never does. Exactly once is NOT what this stack gives: with every
    // queue batch delivered twice, the two copies of the flush run at once, both read
    // the same pending items before either deletes them, and both post (seen: 2-3
    // copies of one id). The contract is at least once (docs/asyncapi.json: de-duplicate
    // by id). No upper bound is asserted: in this mode a flush that found the socket
    // still inside $connect queues its retry, the retry is delivered twice too, and
    // each copy retries again, so copies grow with the retries (10 of one id seen, in
    // a run where the socket took a while to register); docs/architecture.md lists it.
    counts.delete(marker);
    expect([...counts.keys()].sort()).toEqual(ids.slice(1).sort());
  });
});
