import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient, Frame } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** Issue 15 items 2–3 through the local stack: typing indicators and membership events. */
type Env = Awaited<ReturnType<typeof startStack>>;
type Room = { id: string; members: string[] };

let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function group(creator: ChatClient, memberIds: string[]): Promise<Room> {
  const res = await creator.http<Room>('POST', '/api/chat/rooms', {
    type: 'group',
    name: 'g',
    member_ids: memberIds,
  });
  expect(res.status).toBe(201);
  return res.body.data;
}

/**
 * Every item of the table, rate-limit state included: typing frames are charged
 * in memory, so a typing frame that wrote its charge (RATE#) would show here.
 * Left out: the flush lease (`USER#u / FLUSHING`, store/pending.ts), which the
 * pending flush after each $connect takes and releases through a queue, on its
 * own schedule; typing never touches it, and its arrival is not what this test
 * is about.
 */
async function tableSnapshot(): Promise<string[]> {
  const items: string[] = [];
  let start: Record<string, never> | undefined;
  do {
    const out = await env.stack.aws.dynamo.client.send(
      new ScanCommand({ TableName: env.stack.tableName, ExclusiveStartKey: start }),
    );
    for (const item of out.Items ?? [])
      if (item.sk?.S !== 'FLUSHING') items.push(JSON.stringify(item));
    start = out.LastEvaluatedKey as typeof start;
  } while (start);
  return items.sort();
}

/** The table once the stream and queue consumers have settled (two equal scans in a row). */
async function settledSnapshot(): Promise<string[]> {
  let last = await tableSnapshot();
  return eventually(async () => {
    await sleep(400);
    const now = await tableSnapshot();
    const same = JSON.stringify(now) === JSON.stringify(last);
    last = now;
    expect(same).toBe(true);
    return now;
  }, 15_000);
}

const typingFrom = (c: ChatClient, roomId: string): Frame[] =>
  c.eventsNamed('user-typing').filter((f) => f.data.room_id === roomId);

describe('typing', () => {
  it("reaches the other members' connections only, stores nothing, and refuses non-members", async () => {
    const [ana, ben, cid, dov] = await Promise.all([
      env.client('t_ana', 'Ana'),
      env.client('t_ben', 'Ben'),
      env.client('t_cid', 'Cid'),
      env.client('t_dov', 'Dov'),
    ]);
    const room = await group(ana, ['t_ben', 't_cid']);
    await Promise.all([ana.connect(), ben.connect(), cid.connect(), dov.connect()]);
    const before = await settledSnapshot();

    ana.send({ action: 'typing', room_id: room.id, is_typing: true });
    const expected = { room_id: room.id, user_id: 't_ana', user_name: 'Ana', is_typing: true };
    for (const member of [ben, cid]) {
      const got = await member.waitFor('user-typing', (d) => d.room_id === room.id);
      expect(got.data).toEqual(expected);
    }
    // A frame the sender is sure to get after its own typing fan-out has run.
    ben.send({ action: 'typing', room_id: room.id, is_typing: false });
    const fromBen = await ana.waitFor('user-typing', (d) => d.user_id === 't_ben');
    expect(fromBen.data).toEqual({
      room_id: room.id,
      user_id: 't_ben',
      user_name: 'Ben',
      is_typing: false,
    });
    await cid.waitFor('user-typing', (d) => d.user_id === 't_ben');
    expect(typingFrom(ana, room.id).map((f) => f.data.user_id)).toEqual(['t_ben']);
    expect(typingFrom(ben, room.id).map((f) => f.data.user_id)).toEqual(['t_ana']);

    // A stranger is refused and told so; nobody hears of it.
    dov.send({ action: 'typing', room_id: room.id, is_typing: true });
    const refused = await dov.waitFor('error', (d) => d.action === 'typing');
    expect(refused.data).toMatchObject({ code: 'FORBIDDEN', action: 'typing' });
    expect(dov.eventsNamed('user-typing')).toEqual([]);

    // Nothing stored, not even a rate-limit charge: the table is as it was, and no message exists.
    await sleep(500);
    expect(await settledSnapshot()).toEqual(before);
    const page = await ben.http<{ messages: unknown[] }>(
      'GET',
      `/api/chat/rooms/${room.id}/messages`,
    );
    expect(page.body.data.messages).toEqual([]);
    expect(typingFrom(ben, room.id)).toHaveLength(1);
    expect(typingFrom(cid, room.id)).toHaveLength(2);
  });

  it('drops frames over the typing bucket quietly: no error, and the others get fewer than were sent', async () => {
    const [gil, hoa] = await Promise.all([env.client('t_gil'), env.client('t_hoa')]);
    const room = await group(gil, ['t_hoa']);
    await Promise.all([gil.connect(), hoa.connect()]);
    for (let i = 0; i < 12; i++)
      gil.send({ action: 'typing', room_id: room.id, is_typing: i % 2 === 0 });
    // A frame of another bucket, answered, marks the end of the typing frames' handling.
    gil.send({ action: 'room-archive', room_id: room.id, is_archived: false });
    await gil.waitFor('room-archived', (d) => d.room_id === room.id);
    await eventually(async () => expect(typingFrom(hoa, room.id).length).toBeGreaterThan(0));
    await sleep(500);
    const got = typingFrom(hoa, room.id).length;
    // The bucket is 2/s with a burst of 5: 12 frames sent at once cannot all pass.
    expect(got).toBeGreaterThanOrEqual(1);
    expect(got).toBeLessThan(12);
    expect(gil.eventsNamed('error')).toEqual([]);
  });

  it('is not queued for a member who is away: they get nothing on reconnect', async () => {
    const [eve, fin] = await Promise.all([env.client('t_eve'), env.client('t_fin')]);
    const room = await group(eve, ['t_fin']);
    await eve.connect();
    eve.send({ action: 'typing', room_id: room.id, is_typing: true });
    // Then a real message, which is queued and delivered on reconnect.
    await eve.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'after typing' });
    await fin.connect();
    await fin.waitFor('new-chat-message', (d) => {
      const m = d.message as { content: string };
      return m.content === 'after typing';
    });
    // The positive marker, on typing's own path: Eve types again now that Fin is here.
    // Fin hears that one live; the one from while he was away never comes.
    eve.send({ action: 'typing', room_id: room.id, is_typing: false });
    await fin.waitFor('user-typing', (d) => d.is_typing === false);
    expect(fin.eventsNamed('user-typing').map((f) => f.data.is_typing)).toEqual([false]);
  });
});

describe('membership events', () => {
  it('room-member-added goes to every member, the new ones included, and only to them', async () => {
    const [gus, hal, ivy, jon, kim] = await Promise.all([
      env.client('m_gus'),
      env.client('m_hal'),
      env.client('m_ivy'),
      env.client('m_jon'),
      env.client('m_kim'),
    ]);
    await Promise.all([gus.connect(), hal.connect(), ivy.connect(), jon.connect(), kim.connect()]);
    // Creating a group with members announces them to every member.
    const room = await group(gus, ['m_hal']);
    const created = { room_id: room.id, user_ids: ['m_hal'], added_by: 'm_gus' };
    for (const c of [gus, hal]) {
      const got = await c.waitFor('room-member-added', (d) => d.room_id === room.id);
      expect(got.data).toEqual(created);
    }

    const res = await gus.http('POST', `/api/chat/rooms/${room.id}/members`, {
      user_ids: ['m_ivy', 'm_jon', 'm_hal'],
    });
    expect(res.status).toBe(200);
    const added = { room_id: room.id, user_ids: ['m_ivy', 'm_jon'], added_by: 'm_gus' };
    for (const c of [gus, hal, ivy, jon]) {
      const got = await c.waitFor(
        'room-member-added',
        (d) => d.room_id === room.id && (d.user_ids as string[]).includes('m_ivy'),
      );
      expect(got.data).toEqual(added);
    }
    // The positive marker, on the same path: Kim is added to a group of her own after
    // all of the above, and hears that; the announcements of Gus's room never came.
    const own = await group(gus, ['m_kim']);
    await kim.waitFor('room-member-added', (d) => d.room_id === own.id);
    expect(kim.eventsNamed('room-member-added').map((f) => f.data.room_id)).toEqual([own.id]);
    // Each member got each announcement once; the old member did not hear the first one twice.
    expect(hal.eventsNamed('room-member-added').map((f) => f.data)).toEqual([created, added]);
    expect(ivy.eventsNamed('room-member-added').map((f) => f.data)).toEqual([added]);
  });

  it('room-member-removed goes to the remaining members and to the one removed, for a removal and a leave', async () => {
    const [lea, max, ned, oli, pat] = await Promise.all([
      env.client('r_lea'),
      env.client('r_max'),
      env.client('r_ned'),
      env.client('r_oli'),
      env.client('r_pat'),
    ]);
    const room = await group(lea, ['r_max', 'r_ned', 'r_oli']);
    await Promise.all([lea.connect(), max.connect(), ned.connect(), oli.connect(), pat.connect()]);

    // An admin removes Max.
    expect((await lea.http('DELETE', `/api/chat/rooms/${room.id}/members/r_max`)).status).toBe(200);
    const removed = { room_id: room.id, user_id: 'r_max', removed_by: 'r_lea' };
    for (const c of [lea, max, ned, oli]) {
      const got = await c.waitFor('room-member-removed', (d) => d.user_id === 'r_max');
      expect(got.data).toEqual(removed);
    }

    // Ned leaves (DELETE /rooms/:id on a group): removed_by is Ned himself.
    expect((await ned.http('DELETE', `/api/chat/rooms/${room.id}`)).status).toBe(200);
    const left = { room_id: room.id, user_id: 'r_ned', removed_by: 'r_ned' };
    for (const c of [lea, ned, oli]) {
      const got = await c.waitFor('room-member-removed', (d) => d.user_id === 'r_ned');
      expect(got.data).toEqual(left);
    }
    await ned.waitFor('room-deleted', (d) => d.room_id === room.id && d.deleted_by === 'r_ned');

    // The positive marker, on the same path: a removal in another room both Max and Pat
    // are in, made after Ned left, reaches them; Ned's leaving never did.
    const other = await group(lea, ['r_max', 'r_pat', 'r_oli']);
    expect((await lea.http('DELETE', `/api/chat/rooms/${other.id}/members/r_oli`)).status).toBe(
      200,
    );
    for (const c of [max, pat])
      await c.waitFor('room-member-removed', (d) => d.room_id === other.id);
    for (const c of [max, pat, oli])
      c.frames.splice(
        0,
        c.frames.length,
        ...c.frames.filter((f) => f.event !== 'room-member-removed' || f.data.room_id === room.id),
      );
    // Max was no longer a member when Ned left; Pat never was.
    expect(max.eventsNamed('room-member-removed').map((f) => f.data)).toEqual([removed]);
    expect(pat.eventsNamed('room-member-removed')).toEqual([]);
    expect(oli.eventsNamed('room-member-removed').map((f) => f.data)).toEqual([removed, left]);
    // The others still see the room; only the leaver got room-deleted.
    expect(oli.eventsNamed('room-deleted')).toEqual([]);
  });
});
