import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  ConditionalCheckFailedException,
  InternalServerError,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { sendMessage } = await import('#domain/messages.ts');
const { LIMITS } = await import('#platform/limits.ts');
const { requestHash } = await import('#domain/send-store.ts');

/*
 * The send path against mocked AWS clients. DynamoDB is a small in-memory fake
 * that honours the conditions the send relies on (attribute_not_exists puts,
 * transactions cancelled per item, ADD on the room head), so each test sets up
 * a situation and reads its outcome from the fake table, not from call counts
 * alone. Faults are injected per call through `hooks`.
 */
const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const sqs = mockClient(SQSClient);
process.env.ATTACHMENTS_BUCKET = 'files-test';
/** Storage's answers to the send's signed HEADs (store/file-heads.ts), by key; every HEAD seen. */
let heads: { url: string; authorization: string | null }[];
let storedSizes: Record<string, number | 'missing'>;
vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
  const url = String(input);
  heads.push({ url, authorization: new Headers(init?.headers).get('authorization') });
  const key = decodeURIComponent(new URL(url).pathname.slice(1));
  const size = storedSizes[key];
  return size === undefined || size === 'missing'
    ? new Response(null, { status: 403 })
    : new Response(null, { status: 200, headers: { 'content-length': String(size) } });
});

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };
type TransactItems = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>;

const TABLE = 'chat-test';
const alice = { userId: 'alice', name: 'Alice' };
const input = { content: 'hi', message_type: 'text', is_encrypted: false };
const longAgo = new Date(Date.now() - 3600_000).toISOString();
const msgSk = (seq: number) => `MSG#${String(seq).padStart(12, '0')}`;

let table: Map<string, Item>;
/** Every DynamoDB call in order: its label and the "round" (sequential round trip) it began in. */
let calls: { label: string; round: number }[];
let inFlight: number;
let rounds: number;
/** Per-call latency; > 0 makes the rounds of parallel calls observable. */
let latencyMs: number;
let hooks: {
  /** Runs before a TransactWrite is applied: may throw, or change the table first. */
  transact?: (items: TransactItems) => void;
  /** Runs before a Put is applied. */
  put?: (item: Item) => void;
  /** Runs before the head's ADD. */
  add?: () => void;
  /** Answers a BatchGet instead of the table (for UnprocessedKeys). */
  batchGet?: (keys: Key[]) => { found: Item[]; unprocessed: Key[] } | undefined;
};

const id = (key: { pk?: unknown; sk?: unknown }) => `${String(key.pk)}|${String(key.sk)}`;
const get = (pk: string, sk: string) => table.get(`${pk}|${sk}`);
const put = (item: Item) => table.set(id(item), structuredClone(item));

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const canceled = (codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

function labelOf(command: string, input: Record<string, unknown>): string {
  const key = (input.Key ?? {}) as Key;
  if (command === 'Get') return `Get ${key.sk.split('#')[0]}`;
  if (command === 'Update' && key.sk === 'HEAD')
    return String(input.UpdateExpression).startsWith('SET seq =') ? 'ADD HEAD' : 'Update HEAD';
  if (command === 'Update' && key.sk.startsWith('ROOM#')) return 'Update read marker';
  if (command === 'Update') return `Update ${key.sk.split('#')[0]}`;
  if (command === 'Put') {
    const item = input.Item as Item;
    return item.is_tombstone ? 'Put tombstone' : `Put ${String(item.sk).split('#')[0]}`;
  }
  return command;
}

/** Wraps a fake so every call is recorded with the round trip it started in. */
function tracked<I extends Record<string, unknown>, O>(
  command: string,
  answer: (input: I) => O | Promise<O>,
) {
  return async (input: I) => {
    if (inFlight === 0) rounds++;
    calls.push({ label: labelOf(command, input), round: rounds });
    inFlight++;
    try {
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      return await answer(input);
    } finally {
      inFlight--;
    }
  };
}

function applyUpdate(input: Record<string, unknown>): Item | undefined {
  const key = input.Key as Key;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  const expression = String(input.UpdateExpression);
  const current = table.get(id(key));
  if (key.sk === 'HEAD' && expression.startsWith('SET seq = if_not_exists(seq, :zero) + :n')) {
    hooks.add?.();
    const seq = Number(current?.seq ?? 0) + Number(values[':n']);
    // A direct room's send records the number as the sender's own (`#sent`), in the same write.
    const sent = (input.ExpressionAttributeNames as Record<string, string> | undefined)?.['#sent'];
    const head = {
      ...key,
      ...current,
      seq,
      ...(sent && expression.includes('#sent = if_not_exists(seq, :zero) + :n')
        ? { [sent]: seq }
        : {}),
      last_message: values[':summary'],
    };
    put(head);
    return { seq: head.seq };
  }
  if (key.sk === 'HEAD') {
    // The tombstone mark on the summary: only while the head still shows that seq.
    if (!current || current.seq !== values[':seq']) throw conditionFailed();
    put({ ...current, last_message: { ...(current.last_message as Item), is_tombstone: true } });
    return {};
  }
  if (key.sk === 'DELETED') {
    const seqs = new Set((current?.seqs as Set<number> | undefined) ?? []);
    if (expression.startsWith('ADD')) for (const s of values[':s'] as Set<number>) seqs.add(s);
    else for (const s of values[':old'] as Set<number>) seqs.delete(s);
    put({ ...key, ...current, seqs });
    return { ...key, seqs };
  }
  if (key.sk.startsWith('ROOM#')) {
    // The sender's read marker: a conditional max on the member item.
    if (!current || Number(current.read_seq ?? 0) >= Number(values[':seq']))
      throw conditionFailed();
    const member = { ...current, read_seq: values[':seq'], last_read_message_id: values[':id'] };
    put(member);
    return member;
  }
  if (key.sk.startsWith('TEMP#')) {
    // A repair moving the receipt: only while it still names the old message.
    if (!current || current.message_id !== values[':from']) throw conditionFailed();
    const moved = { ...current, message_id: values[':to'], created_at: values[':at'] };
    put(moved);
    return moved;
  }
  if (key.sk === 'CONNS' && expression.startsWith('REMOVE')) {
    const conns = { ...((current?.conns as Record<string, string> | undefined) ?? {}) };
    delete conns[(input.ExpressionAttributeNames as Record<string, string>)['#id']!];
    put({ ...key, ...current, conns });
    return { conns };
  }
  return {};
}

beforeEach(() => {
  table = new Map();
  calls = [];
  inFlight = 0;
  rounds = 0;
  latencyMs = 0;
  hooks = {};
  ddb.reset();
  api.reset();
  sqs.reset();
  heads = [];
  storedSizes = {};
  ddb.on(GetCommand).callsFake(
    tracked('Get', (i) => {
      const item = table.get(id(i.Key as Key));
      return { Item: item ? structuredClone(item) : undefined };
    }),
  );
  ddb.on(PutCommand).callsFake(
    tracked('Put', (i) => {
      const item = i.Item as Item;
      hooks.put?.(item);
      if (i.ConditionExpression === 'attribute_not_exists(pk)' && table.has(id(item)))
        throw conditionFailed();
      put(item);
      return {};
    }),
  );
  ddb.on(TransactWriteCommand).callsFake(
    tracked('TransactWrite', (i) => {
      const items = i.TransactItems as TransactItems;
      hooks.transact?.(items);
      const codes = items.map((t) =>
        t.Put?.ConditionExpression === 'attribute_not_exists(pk)' && table.has(id(t.Put.Item!))
          ? 'ConditionalCheckFailed'
          : 'None',
      );
      if (codes.includes('ConditionalCheckFailed')) throw canceled(codes);
      for (const t of items) if (t.Put) put(t.Put.Item!);
      return {};
    }),
  );
  ddb.on(UpdateCommand).callsFake(tracked('Update', (i) => ({ Attributes: applyUpdate(i) })));
  ddb.on(DeleteCommand).callsFake(
    tracked('Delete', (i) => {
      table.delete(id(i.Key as Key));
      return {};
    }),
  );
  ddb.on(BatchGetCommand).callsFake(
    tracked('BatchGet', (i) => {
      const keys = (i.RequestItems as Record<string, { Keys: Key[] }>)[TABLE]!.Keys;
      const answer = hooks.batchGet?.(keys) ?? {
        found: keys.flatMap((k) => (table.has(id(k)) ? [structuredClone(table.get(id(k))!)] : [])),
        unprocessed: [],
      };
      return {
        Responses: { [TABLE]: answer.found },
        UnprocessedKeys: answer.unprocessed.length ? { [TABLE]: { Keys: answer.unprocessed } } : {},
      };
    }),
  );
  ddb.on(QueryCommand).callsFake(tracked('Query', () => ({ Items: [] })));
  api.on(PostToConnectionCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

/** A group room with these members (each with a member item); connections per user id. */
function givenRoom(
  roomId: string,
  members: string[],
  connections: Record<string, Record<string, string>> = {},
) {
  put({
    pk: `ROOM#${roomId}`,
    sk: 'META',
    entity: 'room',
    id: roomId,
    type: 'group',
    name: 'g',
    created_by: members[0],
    created_at: longAgo,
    updated_at: longAgo,
    members: Object.fromEntries(members.map((m) => [m, longAgo])),
    admins: { [members[0]!]: longAgo },
  });
  for (const m of members)
    put({ pk: `USER#${m}`, sk: `ROOM#${roomId}`, user_id: m, room_id: roomId, read_seq: 0 });
  for (const [user, conns] of Object.entries(connections))
    put({ pk: `USER#${user}`, sk: 'CONNS', conns });
}

/** An upload slot of alice's in room r1, uploaded and not yet sent. */
function givenPendingFile(id: string) {
  put({
    pk: `ATT#${id}`,
    sk: 'META',
    entity: 'attachment',
    id,
    room_id: 'r1',
    uploader_id: 'alice',
    state: 'pending',
    content_type: 'image/png',
    size_bytes: 100,
    created_at: longAgo,
    ttl: Math.floor(Date.now() / 1000) + 3600,
  });
}

const labels = () => calls.map((c) => c.label);
const count = (label: string) => labels().filter((l) => l === label).length;
const writes = () =>
  labels().filter((l) => /^(Put|TransactWrite|ADD|Update)/.test(l) && l !== 'Update read marker');
const storedMessage = (roomId: string, seq: number) => get(`ROOM#${roomId}`, msgSk(seq));
const deletedSeqs = (roomId: string) => [
  ...((get(`ROOM#${roomId}`, 'DELETED')?.seqs as Set<number> | undefined) ?? []),
];
const queuedTo = (queueUrl: string | undefined) =>
  sqs
    .commandCalls(SendMessageBatchCommand)
    .filter((c) => c.args[0].input.QueueUrl === queueUrl)
    .flatMap((c) => c.args[0].input.Entries!.map((e) => JSON.parse(e.MessageBody!)));

describe('sendMessage: round trips and sequence numbers', () => {
  it('needs 4 sequential round trips before the fan-out with a temp_id, and no transaction: Get room ∥ Get receipt → ADD on the head → receipt ∥ read marker → message', async () => {
    // Prepare: every call takes 5 ms, so calls that overlap share a round.
    givenRoom('r1', ['alice', 'bob'], { bob: { c1: longAgo } });
    table.set('ROOM#r1|HEAD', { pk: 'ROOM#r1', sk: 'HEAD', seq: 4 });
    latencyMs = 5;
    let roundsAtFirstPost = -1;
    api.on(PostToConnectionCommand).callsFake(async () => {
      if (roundsAtFirstPost < 0) roundsAtFirstPost = rounds;
      return {};
    });
    // The message is put only once its receipt is stored (a crash between leaves a receipt to repair).
    let receiptStoredFirst: boolean | undefined;
    hooks.put = (item) => {
      if (String(item.sk).startsWith('MSG#'))
        receiptStoredFirst = get('USER#alice', 'TEMP#r1#t1') !== undefined;
    };
    // Act
    const result = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    // Assess
    expect(result).toMatchObject({ duplicate: false, delivered_to_count: 1, queued_for_count: 0 });
    expect(result.message.id).toBe('r1.5');
    expect(receiptStoredFirst).toBe(true);
    // By overlap, the message's put shares a round with the read marker (both are
    // 5 ms here); as a chain it is the 4th step: reads → ADD → receipt → message.
    const byRound = (round: number) =>
      calls
        .filter((c) => c.round === round)
        .map((c) => c.label)
        .sort();
    expect([1, 2, 3, 4].map(byRound)).toEqual([
      ['Get META', 'Get TEMP'],
      ['ADD HEAD'],
      ['Put MSG', 'Put TEMP', 'Update read marker'],
      ['BatchGet'],
    ]);
    expect(labels().indexOf('Put MSG')).toBeGreaterThan(labels().indexOf('Put TEMP'));
    expect(roundsAtFirstPost).toBe(4);
    expect(count('TransactWrite')).toBe(0);
    // The receipt names the message and when it was stamped (for a repair).
    expect(storedMessage('r1', 5)).toMatchObject({ id: 'r1.5', content: 'hi', is_deleted: false });
    expect(get('USER#alice', 'TEMP#r1#t1')).toMatchObject({
      message_id: 'r1.5',
      created_at: result.message.created_at,
    });
    expect(get('USER#alice', 'ROOM#r1')).toMatchObject({ read_seq: 5 });
    expect(count('Get ROOM')).toBe(0);
  });

  it('needs 3 sequential round trips without a temp_id: Get room → ADD on the head → message ∥ read marker', async () => {
    givenRoom('r1', ['alice', 'bob']);
    latencyMs = 5;
    await sendMessage(alice, 'r1', input);
    const byRound = (round: number) =>
      calls
        .filter((c) => c.round === round)
        .map((c) => c.label)
        .sort();
    expect([1, 2, 3].map(byRound)).toEqual([
      ['Get META'],
      ['ADD HEAD'],
      ['Put MSG', 'Update read marker'],
    ]);
  });

  it("in a direct room writes no read marker: the head's ADD records the sender's own number (4 write units with a temp_id, not 5)", async () => {
    givenRoom('dm1', ['alice', 'bob']);
    const meta = get('ROOM#dm1', 'META')!;
    put({ ...meta, type: 'direct', admins: {} });
    table.set('ROOM#dm1|HEAD', { pk: 'ROOM#dm1', sk: 'HEAD', seq: 4, 'sent#bob': 4 });
    const result = await sendMessage(alice, 'dm1', { ...input, temp_id: 't1' });
    expect(result.message.id).toBe('dm1.5');
    expect(count('Update read marker')).toBe(0);
    expect(writes().sort()).toEqual(['ADD HEAD', 'Put MSG', 'Put TEMP']);
    // The member item is untouched; the head holds each member's own newest number.
    expect(get('USER#alice', 'ROOM#dm1')).toMatchObject({ read_seq: 0 });
    expect(get('ROOM#dm1', 'HEAD')).toMatchObject({ seq: 5, 'sent#alice': 5, 'sent#bob': 4 });
  });

  it("reads a send's files beside the room (BatchGet ∥ HEADs in round 1): still 3 rounds, and claims them in the transaction", async () => {
    givenRoom('r1', ['alice', 'bob']);
    for (const file of ['f1', 'f2']) givenPendingFile(file);
    latencyMs = 5;
    storedSizes = { 'rooms/r1/f1': 90, 'rooms/r1/f2': 100 };
    const transactions: TransactItems[] = [];
    hooks.transact = (items) => transactions.push(items);
    const result = await sendMessage(alice, 'r1', {
      ...input,
      temp_id: 't1',
      attachment_ids: ['f1', 'f2'],
    });
    const byRound = (round: number) =>
      calls
        .filter((c) => c.round === round)
        .map((c) => c.label)
        .sort();
    expect([1, 2, 3].map(byRound)).toEqual([
      ['BatchGet', 'Get META', 'Get TEMP'],
      ['ADD HEAD'],
      ['TransactWrite', 'Update read marker'],
    ]);
    // The sizes storage holds, in the order given; keys scoped by room and id.
    expect(result.message.attachments.map((a) => [a.id, a.size_bytes])).toEqual([
      ['f1', 90],
      ['f2', 100],
    ]);
    // Virtual-hosted, signed with SigV4 for s3.
    expect(heads.map((h) => h.url).sort()).toEqual([
      'https://files-test.s3.us-east-1.amazonaws.com/rooms/r1/f1',
      'https://files-test.s3.us-east-1.amazonaws.com/rooms/r1/f2',
    ]);
    expect(heads[0]!.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/s3\/aws4_request/,
    );
    // One transaction: message, receipt, a conditional claim per file, one carrier.
    const [tx] = transactions;
    expect(tx!.filter((t) => t.Update?.Key?.sk === 'META').map((t) => t.Update!.Key!.pk)).toEqual([
      'ATT#f1',
      'ATT#f2',
    ]);
    expect(tx!.find((t) => t.Update)?.Update?.ConditionExpression).toContain('#state = :pending');
    expect(tx!.filter((t) => (t.Put?.Item?.pk as string)?.startsWith('FILES#'))).toHaveLength(1);
  });

  it('refuses a file whose bytes are not in storage with 409 before taking a number', async () => {
    givenRoom('r1', ['alice', 'bob']);
    givenPendingFile('f1');
    storedSizes = { 'rooms/r1/f1': 'missing' };
    await expect(
      sendMessage(alice, 'r1', { ...input, attachment_ids: ['f1'] }),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('f1') });
    expect(count('ADD HEAD')).toBe(0);
    expect(writes()).toEqual([]);
  });

  it('stores a send without temp_id with one conditional put and no transaction', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const result = await sendMessage(alice, 'r1', input);
    expect(result.message.id).toBe('r1.1');
    expect(count('TransactWrite')).toBe(0);
    expect(count('Get TEMP')).toBe(0);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({
      Item: { sk: msgSk(1), id: 'r1.1' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('gives 40 concurrent senders distinct numbers with one ADD each: none is retried, none is "busy"', async () => {
    const members = Array.from({ length: 40 }, (_, i) => `u${i}`);
    givenRoom('r1', members);
    latencyMs = 1;
    const results = await Promise.allSettled(
      members.map((m, i) =>
        sendMessage({ userId: m, name: m }, 'r1', { ...input, temp_id: `t${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const ids = results.map((r) => (r.status === 'fulfilled' ? r.value.message.id : ''));
    expect(new Set(ids).size).toBe(40);
    expect(count('ADD HEAD')).toBe(40);
    expect(count('TransactWrite')).toBe(0);
    expect(count('Put TEMP')).toBe(40);
    expect(count('Put MSG')).toBe(40);
    expect(get('ROOM#r1', 'HEAD')).toMatchObject({ seq: 40 });
    for (let seq = 1; seq <= 40; seq++)
      expect(storedMessage('r1', seq)).toMatchObject({ id: `r1.${seq}` });
  });

  it('does not retry a failed ADD: the send fails and writes nothing else', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const throttled = new InternalServerError({ message: 'Internal error', $metadata: {} });
    hooks.add = () => {
      throw throttled;
    };
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toBe(throttled);
    expect(count('ADD HEAD')).toBe(1);
    expect(writes()).toEqual(['ADD HEAD']);
    expect(deletedSeqs('r1')).toEqual([]);
  });
});

describe('sendMessage: a send that fails after taking its number', () => {
  it('retries the transaction of a send with files after a TransactionConflict, keeping its number', async () => {
    givenRoom('r1', ['alice', 'bob']);
    givenPendingFile('f1');
    storedSizes = { 'rooms/r1/f1': 100 };
    let conflicts = 2;
    hooks.transact = (items) => {
      if (conflicts-- > 0) throw canceled(items.map(() => 'TransactionConflict'));
    };
    const result = await sendMessage(alice, 'r1', {
      ...input,
      temp_id: 't1',
      attachment_ids: ['f1'],
    });
    expect(result.message.id).toBe('r1.1');
    expect(count('TransactWrite')).toBe(3);
    expect(count('ADD HEAD')).toBe(1);
    expect(storedMessage('r1', 1)).toMatchObject({ content: 'hi', is_deleted: false });
    expect(count('Put tombstone')).toBe(0);
  });

  it("leaves a tombstone and records its seq as deleted when the message's put fails, and the error reaches the caller", async () => {
    givenRoom('r1', ['alice', 'bob']);
    table.set('ROOM#r1|HEAD', { pk: 'ROOM#r1', sk: 'HEAD', seq: 6 });
    const failure = new InternalServerError({ message: 'Internal error', $metadata: {} });
    hooks.put = (item) => {
      if (String(item.sk).startsWith('MSG#') && !item.is_tombstone) throw failure;
    };
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toMatchObject({
      name: 'StoreError',
      cause: failure,
    });
    const stonePuts = ddb
      .commandCalls(PutCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.Item?.is_tombstone === true);
    expect(stonePuts).toHaveLength(1);
    expect(stonePuts[0]).toMatchObject({
      Item: { pk: 'ROOM#r1', sk: msgSk(7), is_deleted: true, is_tombstone: true, content: '' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(deletedSeqs('r1')).toEqual([7]);
    // The receipt, written first, stays: the retry repairs the send (below).
    expect(get('USER#alice', 'TEMP#r1#t1')).toMatchObject({ message_id: 'r1.7' });
    // The head's summary no longer offers the failed message as the room's last.
    expect(get('ROOM#r1', 'HEAD')).toMatchObject({ seq: 7, last_message: { is_tombstone: true } });
  });

  it('gives up after repeated TransactionConflicts (a send with files) with a tombstone, not a silent gap', async () => {
    givenRoom('r1', ['alice', 'bob']);
    givenPendingFile('f1');
    storedSizes = { 'rooms/r1/f1': 100 };
    hooks.transact = (items) => {
      throw canceled(items.map(() => 'TransactionConflict'));
    };
    const refused = sendMessage(alice, 'r1', { ...input, temp_id: 't1', attachment_ids: ['f1'] });
    await expect(refused).rejects.toMatchObject({ name: 'StoreError' });
    await expect(refused.catch((e: Error) => e.cause)).resolves.toBeInstanceOf(
      TransactionCanceledException,
    );
    expect(count('ADD HEAD')).toBe(1);
    expect(storedMessage('r1', 1)).toMatchObject({ is_tombstone: true });
    expect(deletedSeqs('r1')).toEqual([1]);
  });

  it('tombstones a failed plain put too (a send without temp_id)', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const failure = new InternalServerError({ message: 'Internal error', $metadata: {} });
    hooks.put = (item) => {
      if (!item.is_tombstone) throw failure;
    };
    await expect(sendMessage(alice, 'r1', input)).rejects.toMatchObject({
      name: 'StoreError',
      cause: failure,
    });
    expect(storedMessage('r1', 1)).toMatchObject({ is_tombstone: true, is_deleted: true });
    expect(deletedSeqs('r1')).toEqual([1]);
  });

  it('keeps a message that was stored after all (an ambiguous failure): the tombstone put is conditional', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const timeout = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    hooks.put = (item) => {
      if (String(item.sk).startsWith('MSG#') && !item.is_tombstone) {
        hooks.put = undefined;
        put(item);
        throw timeout;
      }
    };
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toMatchObject({
      name: 'StoreError',
      cause: timeout,
    });
    expect(storedMessage('r1', 1)).toMatchObject({ content: 'hi', is_deleted: false });
    expect(storedMessage('r1', 1)?.is_tombstone).toBeUndefined();
    expect(deletedSeqs('r1')).toEqual([]);
    // The retry finds the receipt, written first, and its message.
    const retry = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    expect(retry).toMatchObject({ duplicate: true, message: { id: 'r1.1' } });
    expect(count('ADD HEAD')).toBe(1);
  });
});

describe('sendMessage: a send that dies between its receipt and its message (fault injection)', () => {
  /** Messages of alice's in r1 that a member would see: exactly once is the point. */
  const visibleOfAlice = () =>
    [...table.values()].filter(
      (i) =>
        i.pk === 'ROOM#r1' &&
        String(i.sk).startsWith('MSG#') &&
        i.sender_id === 'alice' &&
        i.is_tombstone !== true,
    );

  /** alice's first send of t1 in r1 fails at the message's put and tombstones its number. */
  async function givenFailedFirstSend() {
    givenRoom('r1', ['alice', 'bob']);
    const failure = new InternalServerError({ message: 'Internal error', $metadata: {} });
    hooks.put = (item) => {
      if (String(item.sk).startsWith('MSG#') && !item.is_tombstone) throw failure;
    };
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toThrow();
  }

  it('the retry stores the message at its own number when the process died before the put (no tombstone yet)', async () => {
    givenRoom('r1', ['alice', 'bob'], { bob: { c1: longAgo } });
    // The crash: the message's put never happens, and nothing after it runs (not even the tombstone).
    const crash = new Error('Runtime exited');
    hooks.put = (item) => {
      if (String(item.sk).startsWith('MSG#')) throw crash;
    };
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toThrow();
    const receipt = get('USER#alice', 'TEMP#r1#t1');
    expect(receipt).toMatchObject({ message_id: 'r1.1' });
    expect(storedMessage('r1', 1)).toBeUndefined();
    hooks.put = undefined;
    // Act: the client resends the same request.
    const retry = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    // Assess: stored once, at the number the receipt names, stamped as first sent; delivered.
    expect(retry).toMatchObject({ duplicate: true, delivered_to_count: 1 });
    expect(retry.message).toMatchObject({ id: 'r1.1', content: 'hi' });
    expect(retry.message.created_at).toBe(receipt!.created_at);
    expect(visibleOfAlice()).toHaveLength(1);
    expect(count('ADD HEAD')).toBe(1);
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(1);
    // A third try replays it, writing nothing.
    const writesBefore = writes().length;
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).resolves.toMatchObject({
      message: { id: 'r1.1' },
    });
    expect(writes()).toHaveLength(writesBefore);
  });

  it('the retry stores the message under a new number, moving the receipt, once its own number is a tombstone', async () => {
    await givenFailedFirstSend();
    expect(storedMessage('r1', 1)).toMatchObject({ is_tombstone: true });
    hooks.put = undefined;
    const retry = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    expect(retry.message).toMatchObject({ id: 'r1.2', content: 'hi' });
    expect(get('USER#alice', 'TEMP#r1#t1')).toMatchObject({ message_id: 'r1.2' });
    expect(visibleOfAlice()).toHaveLength(1);
    expect(get('USER#alice', 'ROOM#r1')).toMatchObject({ read_seq: 2 });
  });

  it('two retries repairing at once store one message: the loser of the receipt move tombstones its number', async () => {
    await givenFailedFirstSend();
    hooks.put = undefined;
    latencyMs = 2;
    const [a, b] = await Promise.all([
      sendMessage(alice, 'r1', { ...input, temp_id: 't1' }),
      sendMessage(alice, 'r1', { ...input, temp_id: 't1' }),
    ]);
    expect(a.message.id).toBe(b.message.id);
    expect(visibleOfAlice()).toHaveLength(1);
    expect(get('USER#alice', 'TEMP#r1#t1')).toMatchObject({ message_id: a.message.id });
    // Every number alice took (1, then one per retry) marks the room read, the
    // loser's tombstone included: her own numbers never count as unread.
    expect(get('ROOM#r1', 'HEAD')).toMatchObject({ seq: 3 });
    expect(get('USER#alice', 'ROOM#r1')).toMatchObject({ read_seq: 3 });
  });

  it('an empty number older than the gap check is not filled again (it was purged): 404', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const old = new Date(Date.now() - (LIMITS.gapCheckDelaySeconds + 5) * 1000).toISOString();
    put({
      pk: 'USER#alice',
      sk: 'TEMP#r1#t1',
      user_id: 'alice',
      room_id: 'r1',
      temp_id: 't1',
      message_id: 'r1.1',
      request_hash: requestHash('r1', { ...input, temp_id: 't1' }),
      created_at: old,
    });
    await expect(sendMessage(alice, 'r1', { ...input, temp_id: 't1' })).rejects.toMatchObject({
      status: 404,
    });
    expect(visibleOfAlice()).toHaveLength(0);
  });
});

describe('sendMessage: temp_id idempotency', () => {
  it('loses to a concurrent send of the same temp_id: tombstones its own number and confirms the winner as a duplicate', async () => {
    givenRoom('r1', ['alice', 'bob']);
    table.set('ROOM#r1|HEAD', { pk: 'ROOM#r1', sk: 'HEAD', seq: 4 });
    // The winner (seq 4) writes its receipt and message between our receipt read and our receipt put.
    hooks.put = (item) => {
      if (!String(item.sk).startsWith('TEMP#')) return;
      hooks.put = undefined;
      put({ ...storedShape('r1', 4, 'first copy'), sender_id: 'alice' });
      put({ ...item, message_id: 'r1.4' });
    };
    const result = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    expect(result).toMatchObject({
      duplicate: true,
      message: { id: 'r1.4', content: 'first copy' },
    });
    expect(storedMessage('r1', 5)).toMatchObject({ is_tombstone: true, is_deleted: true });
    expect(deletedSeqs('r1')).toEqual([5]);
    expect(storedMessage('r1', 4)).toMatchObject({ content: 'first copy', is_deleted: false });
  });

  it('answers a replay of the same request with the first message, writing nothing', async () => {
    givenRoom('r1', ['alice', 'bob']);
    const first = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    const writesBefore = writes().length;
    const again = await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    expect(again).toMatchObject({ duplicate: true, message: { id: first.message.id } });
    expect(writes()).toHaveLength(writesBefore);
    expect(get('ROOM#r1', 'HEAD')).toMatchObject({ seq: 1 });
  });

  it('refuses another request under a used temp_id with 409 CONFLICT, writing nothing', async () => {
    givenRoom('r1', ['alice', 'bob']);
    await sendMessage(alice, 'r1', { ...input, temp_id: 't1' });
    const writesBefore = writes().length;
    await expect(
      sendMessage(alice, 'r1', { ...input, content: 'something else', temp_id: 't1' }),
    ).rejects.toMatchObject({ status: 409, code: 'CONFLICT' });
    expect(writes()).toHaveLength(writesBefore);
    expect(storedMessage('r1', 1)).toMatchObject({ content: 'hi' });
  });

  it('scopes the receipt to the room: the same temp_id in another room is a new message (issue 11, hole 1)', async () => {
    givenRoom('private', ['alice', 'bob']);
    givenRoom('dm', ['alice', 'zed']);
    const secret = await sendMessage(alice, 'private', {
      ...input,
      content: 'PRIVATE',
      temp_id: 'dup-1',
    });
    const hello = await sendMessage(alice, 'dm', {
      ...input,
      content: 'hello z',
      temp_id: 'dup-1',
    });
    expect(get('USER#alice', 'TEMP#private#dup-1')).toMatchObject({
      message_id: secret.message.id,
    });
    expect(get('USER#alice', 'TEMP#dm#dup-1')).toMatchObject({ message_id: hello.message.id });
    expect(hello).toMatchObject({
      duplicate: false,
      message: { room_id: 'dm', content: 'hello z' },
    });
    expect(storedMessage('dm', 1)).toMatchObject({ content: 'hello z' });
  });

  it('refuses a non-member (403) and a missing room (404) before any write', async () => {
    givenRoom('r1', ['alice', 'bob']);
    await expect(
      sendMessage({ userId: 'mallory', name: 'M' }, 'r1', { ...input, temp_id: 't1' }),
    ).rejects.toMatchObject({ status: 403, code: 'FORBIDDEN' });
    await expect(sendMessage(alice, 'gone', input)).rejects.toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(writes()).toEqual([]);
    expect(count('Update read marker')).toBe(0);
  });
});

/** A stored message item as the send writes it. */
function storedShape(roomId: string, seq: number, content: string): Item {
  return {
    pk: `ROOM#${roomId}`,
    sk: msgSk(seq),
    entity: 'message',
    id: `${roomId}.${seq}`,
    room_id: roomId,
    seq,
    sender_id: 'alice',
    sender_name: 'Alice',
    content,
    message_type: 'text',
    is_encrypted: false,
    is_deleted: false,
    created_at: longAgo,
  };
}

describe('sendMessage: fan-out', () => {
  it('reads the connections of a room at the inline limit with one BatchGet, never one call per member', async () => {
    const others = Array.from({ length: LIMITS.inlineFanOutMembers }, (_, i) => `m${i}`);
    givenRoom('r1', ['alice', ...others], { m0: { c0: longAgo }, m7: { c7: longAgo } });
    const result = await sendMessage(alice, 'r1', input);
    const batches = ddb.commandCalls(BatchGetCommand);
    expect(batches).toHaveLength(1);
    const keys = batches[0]!.args[0].input.RequestItems![TABLE]!.Keys!;
    expect(keys.map((k) => k.pk).sort()).toEqual(others.map((m) => `USER#${m}`).sort());
    expect(result).toMatchObject({ delivered_to_count: 2, queued_for_count: others.length - 2 });
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(2);
    expect(count('Get CONNS')).toBe(0);
  });

  it('retries BatchGet keys that come back unprocessed (throttling)', async () => {
    givenRoom('r1', ['alice', 'bob', 'carol'], {
      bob: { c1: longAgo },
      carol: { c2: longAgo },
    });
    let throttled = true;
    hooks.batchGet = (keys) => {
      if (!throttled) return undefined;
      throttled = false;
      const [first, ...rest] = keys;
      return { found: [structuredClone(table.get(id(first!))!)], unprocessed: rest };
    };
    const result = await sendMessage(alice, 'r1', input);
    expect(result).toMatchObject({ delivered_to_count: 2, queued_for_count: 0 });
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(2);
    expect(ddb.commandCalls(BatchGetCommand)[1]!.args[0].input.RequestItems![TABLE]!.Keys).toEqual([
      { pk: 'USER#carol', sk: 'CONNS' },
    ]);
  });

  it('removes a connection that answers 410, does not count it, and queues a member left with none', async () => {
    givenRoom('r1', ['alice', 'bob', 'carol'], {
      bob: { phone: longAgo, tablet: longAgo },
      carol: { laptop: longAgo },
    });
    const gone = new GoneException({ message: 'Gone', $metadata: { httpStatusCode: 410 } });
    api.on(PostToConnectionCommand, { ConnectionId: 'tablet' }).rejects(gone);
    api.on(PostToConnectionCommand, { ConnectionId: 'laptop' }).rejects(gone);

    const result = await sendMessage(alice, 'r1', input);

    expect(result).toMatchObject({ delivered_to_count: 1, queued_for_count: 1 });
    expect(get('USER#bob', 'CONNS')).toMatchObject({ conns: { phone: longAgo } });
    expect(Object.keys(get('USER#bob', 'CONNS')!.conns as object)).toEqual(['phone']);
    expect(get('USER#carol', 'CONNS')).toMatchObject({ conns: {} });
    // Carol looked online when the message was stored, so the stream's outbox will not queue
    // her: the send does, once. Bob has a live device and is not queued.
    expect(
      queuedTo(process.env.OFFLINE_QUEUE_URL).map((q: { user_id: string }) => q.user_id),
    ).toEqual(['carol']);
  });

  it('queues a member whose every post failed (not 410): the connection stays, the outbox sees them online', async () => {
    givenRoom('r1', ['alice', 'bob', 'carol'], {
      bob: { phone: longAgo },
      carol: { laptop: longAgo },
    });
    api
      .on(PostToConnectionCommand, { ConnectionId: 'laptop' })
      .rejects(Object.assign(new Error('Internal'), { name: 'InternalServerErrorException' }));

    const result = await sendMessage(alice, 'r1', input);

    expect(result).toMatchObject({ delivered_to_count: 1, queued_for_count: 1 });
    expect(Object.keys(get('USER#carol', 'CONNS')!.conns as object)).toEqual(['laptop']);
    const queued = queuedTo(process.env.OFFLINE_QUEUE_URL) as {
      user_id: string;
      message: { id: string };
    }[];
    expect(queued.map((q) => q.user_id)).toEqual(['carol']);
    expect(queued[0]!.message.id).toBe(result.message.id);
  });

  it('confirms a stored send even when queueing for offline members fails: the stream is the outbox (issue 11, hole 8)', async () => {
    givenRoom('r1', ['alice', 'bob']);
    sqs.on(SendMessageBatchCommand).rejects(new Error('SQS refused the batch'));
    const result = await sendMessage(alice, 'r1', { ...input, content: 'emoji 🙂' });
    expect(result).toMatchObject({ duplicate: false, delivered_to_count: 0, queued_for_count: 1 });
    expect(storedMessage('r1', 1)).toMatchObject({ content: 'emoji 🙂', is_deleted: false });
    expect(deletedSeqs('r1')).toEqual([]);
  });

  it('hands a room over the inline limit to the fan-out queue in chunks, posting nothing itself', async () => {
    // Prepare: 250 others; every third has a live connection, m1 only an expired one (> 2 h).
    const others = Array.from({ length: 250 }, (_, i) => `m${i}`);
    const connections: Record<string, Record<string, string>> = {};
    others.forEach((m, i) => {
      if (i % 3 === 0) connections[m] = { [`c-${m}`]: longAgo };
    });
    connections.m1 = { stale: new Date(Date.now() - 3 * 3600_000).toISOString() };
    givenRoom('big', ['alice', ...others], connections);
    const online = others.filter((_, i) => i % 3 === 0);
    // Act
    const result = await sendMessage(alice, 'big', input);
    // Assess
    expect(api.commandCalls(PostToConnectionCommand)).toHaveLength(0);
    expect(result).toMatchObject({
      delivered_to_count: online.length,
      queued_for_count: others.length - online.length,
    });
    const batches = ddb.commandCalls(BatchGetCommand);
    expect(batches).toHaveLength(Math.ceil(others.length / 100));
    const chunks = queuedTo(process.env.FANOUT_QUEUE_URL) as {
      message_id: string;
      targets: { user_id: string; connections: { id: string }[] }[];
    }[];
    expect(chunks.length).toBe(Math.ceil(online.length / LIMITS.fanOutChunkMembers));
    for (const c of chunks) {
      expect(c.message_id).toBe(result.message.id);
      expect(c.targets.length).toBeLessThanOrEqual(LIMITS.fanOutChunkMembers);
    }
    const targets = chunks.flatMap((c) => c.targets);
    expect(targets.map((t) => t.user_id).sort()).toEqual([...online].sort());
    expect(targets.find((t) => t.user_id === 'm3')!.connections.map((c) => c.id)).toEqual(['c-m3']);
  });
});
