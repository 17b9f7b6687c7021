import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * The account erase (domain/account-erase.ts) survives a crash anywhere: each
 * world below is built the same way under its own prefix; one is erased in one
 * go, the others are crashed after step k (a fault injected through the job's
 * step hook, as a Lambda timeout or a kill would stop it) and then the same
 * job is delivered again, as SQS does. The end states, read back from
 * DynamoDB Local partition by partition (no Scan) and with ids and times
 * normalized, must be equal. Room event logs are compared apart: events are
 * at least once, so a redelivery may log a removal twice, never zero times.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
beforeAll(async () => {
  aws = await localAws();
});
afterAll(async () => aws?.stop());

interface World {
  prefix: string;
  users: string[];
  rooms: Map<string, string>;
}

const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;

async function buildWorld(prefix: string): Promise<World> {
  const { createRoom } = await import('#domain/rooms.ts');
  const { storeSend } = await import('#domain/send-store.ts');
  const { blockUser } = await import('#domain/blocks.ts');
  const { updateMySettings } = await import('#domain/settings.ts');
  const { uploadPublicKey } = await import('#domain/keys.ts');
  const { ddb, tableName } = await import('#platform/clients.ts');
  const u = (name: string) => `${prefix}_${name}`;
  const users = ['zed', 'amy', 'bob', 'cat', 'dan'].map(u);
  const rooms = new Map<string, string>();
  const make = async (label: string, by: string, type: 'group' | 'direct', others: string[]) => {
    const { room } = await createRoom(
      caller(by),
      type === 'group'
        ? { type, name: label, member_ids: others }
        : { type, member_ids: others as [string] },
    );
    rooms.set(label, room.id);
    return room.id;
  };
  const text = (content: string) => ({ content, message_type: 'text', is_encrypted: false });
  // Zed: sole admin of two groups, member of two, in two direct rooms, and the
  // last member of a group of their own (removed with them).
  for (const label of ['own1', 'own2']) {
    const id = await make(label, u('zed'), 'group', [u('amy'), u('bob')]);
    await storeSend(caller(u('zed')), id, text(`zed in ${label}`));
    await storeSend(caller(u('amy')), id, text(`amy in ${label}`));
  }
  for (const label of ['joined1', 'joined2']) {
    const id = await make(label, u('amy'), 'group', [u('zed'), u('cat')]);
    await storeSend(caller(u('zed')), id, text(`zed in ${label}`));
  }
  await make('alone', u('zed'), 'group', []);
  for (const [label, other] of [
    ['dm-amy', u('amy')],
    ['dm-bob', u('bob')],
  ] as const) {
    const id = await make(label, u('zed'), 'direct', [other]);
    await storeSend(caller(u('zed')), id, text(`zed to ${other}`));
    await storeSend(caller(other), id, text(`${other} to zed`));
  }
  await blockUser(caller(u('zed')), u('cat'));
  await blockUser(caller(u('dan')), u('zed'));
  await blockUser(caller(u('bob')), u('zed'));
  await updateMySettings(caller(u('zed')), { who_can_add_me: 'nobody' });
  await uploadPublicKey(caller(u('zed')), {
    public_key: `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----`,
    device_id: 'phone',
    key_id: 'k1',
  });
  // Items no domain call here writes: a pending copy, a send receipt, and what must stay.
  const put = (item: Record<string, unknown>) =>
    ddb().send(new PutCommand({ TableName: tableName(), Item: item }));
  await put({
    pk: `USER#${u('zed')}`,
    sk: 'PENDING#2026-01-01T00:00:00.000Z#m',
    entity: 'pending',
  });
  await put({ pk: `USER#${u('zed')}`, sk: 'TEMP#r#t', entity: 'send-receipt' });
  await put({ pk: `USER#${u('zed')}`, sk: 'SUSPENSION', entity: 'suspension', reason: 'spam' });
  return { prefix, users, rooms };
}

/** Every item of the world's partitions, normalized: ids and times replaced, event logs apart. */
async function snapshot(world: World) {
  const { ddb, tableName } = await import('#platform/clients.ts');
  const { directPairKey } = await import('#store/rooms.ts');
  const labels = [...world.rooms.entries()].sort((a, b) => b[1].length - a[1].length);
  const norm = (value: unknown): unknown => {
    if (typeof value === 'string') {
      let s = value.replace(ISO, 'T');
      for (const [label, id] of labels) s = s.split(id).join(`<${label}>`);
      return s.split(`${world.prefix}_`).join('').split(`${world.prefix.toUpperCase()}_`).join('');
    }
    if (value instanceof Set) return [...value].map(norm).sort();
    if (Array.isArray(value)) return value.map(norm);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => k !== 'ttl' && k !== 'id' && !k.endsWith('_at') && k !== 'at')
          .map(([k, v]) => [norm(k) as string, norm(v)])
          .sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)),
      );
    }
    return value;
  };
  const partitions = [
    ...world.users.map((user) => `USER#${user}`),
    ...[...world.rooms.values()].map((id) => `ROOM#${id}`),
  ];
  for (let i = 0; i < world.users.length; i++) {
    for (let j = i + 1; j < world.users.length; j++) {
      partitions.push(directPairKey(world.users[i]!, world.users[j]!).pk);
    }
  }
  const items: unknown[] = [];
  const logged: string[] = [];
  for (const pk of partitions) {
    const out = await ddb().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      }),
    );
    for (const item of out.Items ?? []) {
      if ((item.sk as string).startsWith('EVT#')) {
        const data = item.data as { user_id?: string };
        logged.push(norm(`${pk} ${item.event} ${data.user_id ?? ''}`) as string);
      } else items.push(norm(item));
    }
  }
  return { items, logged: [...new Set(logged)].sort() };
}

const jobFor = (world: World, eraseMessages: boolean) => ({
  user_id: `${world.prefix}_zed`,
  erase_messages: eraseMessages,
  requested_at: '2026-01-01T00:00:00.000Z',
});

type Job = ReturnType<typeof jobFor>;
type Options = NonNullable<Parameters<typeof import('#domain/account-erase.ts').runErase>[1]>;

/** The next body on the erase queue (the continuation an invocation queued), taken off it. */
async function nextBody(expectedUser: string): Promise<Job> {
  const { SQSClient, ReceiveMessageCommand, DeleteMessageCommand } = await import(
    '@aws-sdk/client-sqs'
  );
  const sqs = new SQSClient({});
  const url = process.env.ERASE_QUEUE_URL!;
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
  );
  const message = out.Messages![0]!;
  await sqs.send(
    new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle! }),
  );
  const body = JSON.parse(message.Body!) as Job;
  expect(body.user_id).toBe(expectedUser);
  return body;
}

/**
 * Runs a job as the queue would: each invocation, then the continuation it
 * queued, until one is done. A throw stops the chain; `at.current` is then the
 * body whose invocation died, which SQS would deliver again.
 */
async function runChain(first: Job, options: Options, at: { current: Job } = { current: first }) {
  const { runErase } = await import('#domain/account-erase.ts');
  at.current = first;
  for (let hops = 0; ; hops++) {
    expect(hops).toBeLessThan(100);
    if ((await runErase(at.current, options)) === 'done') return;
    at.current = await nextBody(first.user_id);
  }
}

describe('account erase: crash and redelivery', () => {
  it('a crash after any step, then redelivery, ends where an uninterrupted run does', async () => {
    const reference = await buildWorld('ref');
    const steps: string[] = [];
    await runChain(jobFor(reference, true), {
      concurrency: 1,
      afterStep: (s) => {
        steps.push(s);
      },
    });
    const expected = await snapshot(reference);
    // The reference really erased: sanity checks that would fail on a no-op.
    const text = JSON.stringify(expected.items);
    expect(text).not.toContain('zed in own1');
    expect(text).toContain('amy in own1');
    expect(text).toContain('"sk":"SUSPENSION"');
    expect(text).not.toContain('"sk":"SETTINGS"');
    expect(text).not.toContain('BLOCKEDBY#zed');
    expect(expected.logged.filter((l) => l.includes('room-member-removed zed'))).toHaveLength(6);
    expect(steps.length).toBeGreaterThan(8);

    // Crash (1-based step counts) after: closing the sockets; listing the rooms; a room's
    // transaction but before its announcement; a room in the middle; the last room; mid-sweep.
    const index = (pick: (s: string, i: number) => boolean) => steps.findIndex(pick) + 1;
    const roomSteps = steps.flatMap((s, i) => (s.startsWith('room ') ? [i + 1] : []));
    const crashes = [
      1,
      index((s) => s === 'listed'),
      index((s) => s.startsWith('left ')),
      roomSteps[Math.floor(roomSteps.length / 2)]!,
      roomSteps.at(-1)!,
      steps.length - 1,
    ];
    expect(new Set(crashes).size).toBe(crashes.length);
    for (const [n, crashAfter] of crashes.entries()) {
      const world = await buildWorld(`c${n}`);
      let count = 0;
      const at = { current: jobFor(world, true) };
      const crashing = runChain(
        at.current,
        {
          concurrency: 1,
          afterStep: () => {
            if (++count === crashAfter) throw new Error(`crash after step ${crashAfter}`);
          },
        },
        at,
      );
      await expect(crashing).rejects.toThrow(`crash after step ${crashAfter}`);
      // Mid-way the state differs from the end state (the crash did stop it).
      if (crashAfter < steps.length - 1) {
        expect((await snapshot(world)).items).not.toEqual(expected.items);
      }
      // SQS delivers the body of the invocation that died again.
      await runChain(at.current, { concurrency: 1 });
      const got = await snapshot(world);
      expect(got.items).toEqual(expected.items);
      // Every removal announced (and logged) at least once, whatever the crash.
      expect(got.logged).toEqual(expected.logged);
    }
  }, 180_000);

  it('an invocation past its time budget queues a continuation that finishes the same way', async () => {
    const reference = await buildWorld('tref');
    await runChain(jobFor(reference, false), {});
    const expected = await snapshot(reference);
    const world = await buildWorld('tcon');
    // Every invocation is past its deadline from the start: each does one unit of
    // work (a room, a page), then queues the rest.
    let hops = 0;
    await runChain(jobFor(world, false), {
      concurrency: 1,
      deadline: 0,
      afterStep: (s) => {
        if (s === 'sockets') hops++;
      },
    });
    expect(hops).toBeGreaterThan(7);
    const got = await snapshot(world);
    expect(got.items).toEqual(expected.items);
  }, 120_000);
});
