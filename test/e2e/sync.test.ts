import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealCursor } from '#store/cursor.ts';
import type { ChatClient, Frame } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Sync (docs/architecture.md "Sync"): one user's tablet is away while their phone is online;
 * sends in two rooms, a deletion, a clear and an archive happen meanwhile. The
 * tablet catches up from its own cursor, page by page, and ends in the state
 * the server (and so the online phone) has.
 */
let env: Awaited<ReturnType<typeof startStack>>;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

interface Page {
  events: Frame[];
  next_since: string;
  has_more: boolean;
}
interface Message {
  id: string;
  room_id: string;
  created_at: string;
}

async function syncPage(client: ChatClient, since?: string, limit?: number) {
  const query = new URLSearchParams();
  if (since) query.set('since', since);
  if (limit) query.set('limit', String(limit));
  return client.http<Page>('GET', `/api/chat/sync?${query}`);
}

/** A device's view, built only from the events it was given. */
function applyEvents(events: Frame[]) {
  const messages = new Map<string, Map<string, Message>>();
  const archived = new Map<string, boolean>();
  const room = (id: string) => messages.get(id) ?? messages.set(id, new Map()).get(id)!;
  for (const { event, data } of events) {
    if (event === 'new-chat-message') {
      const m = data.message as Message;
      room(m.room_id).set(m.id, m);
    } else if (event === 'message-deleted') {
      room(data.room_id as string).delete(data.message_id as string);
    } else if (event === 'room-messages-cleared') {
      const at = data.cleared_at as string;
      for (const [id, m] of room(data.room_id as string))
        if (m.created_at <= at) room(m.room_id).delete(id);
    } else if (event === 'room-archived') {
      archived.set(data.room_id as string, data.is_archived as boolean);
    }
  }
  return { messages, archived };
}

describe('sync', () => {
  it('brings an away device to the online device’s state: messages, a deletion, a clear and an archive', async () => {
    const [phone, tablet, bob, carol] = await Promise.all([
      env.client('s_alice', 'Alice'),
      env.client('s_alice', 'Alice'),
      env.client('s_bob', 'Bob'),
      env.client('s_carol', 'Carol'),
    ]);
    const group = (
      await phone.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Sync',
        member_ids: ['s_bob', 's_carol'],
      })
    ).body.data.id;
    const direct = (
      await phone.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['s_bob'],
      })
    ).body.data.id;
    // The tablet takes its cursor, then goes away.
    const first = await syncPage(tablet);
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ events: [], has_more: false });
    const cursor = first.body.data.next_since;
    await phone.connect();

    const send = async (who: ChatClient, roomId: string, content: string) =>
      (await who.http<Message>('POST', `/api/chat/rooms/${roomId}/messages`, { content })).body
        .data;
    const g1 = await send(bob, group, 'g1 from bob');
    await send(carol, group, 'g2 from carol');
    await send(phone, group, 'g3 from alice on her phone');
    await send(bob, direct, 'd1 from bob');
    const doomed = await send(bob, group, 'g4 soon deleted');
    await send(bob, direct, 'd2 from bob');
    expect((await bob.http('DELETE', `/api/chat/messages/${doomed.id}`)).status).toBe(200);
    expect((await phone.http('DELETE', `/api/chat/rooms/${direct}/messages`)).status).toBe(200);
    await send(bob, direct, 'd3 after the clear');
    expect(
      (await phone.http('PUT', `/api/chat/rooms/${group}/archive`, { is_archived: true })).status,
    ).toBe(200);
    // The online phone heard it live.
    await phone.waitFor('message-deleted', (d) => d.message_id === doomed.id);

    // The tablet pages through sync, three events at a time.
    const events: Frame[] = [];
    let since = cursor;
    for (let pages = 0; pages < 50; pages++) {
      const page = await syncPage(tablet, since, 3);
      expect(page.status).toBe(200);
      expect(page.body.data.events.length).toBeLessThanOrEqual(3);
      events.push(...page.body.data.events);
      since = page.body.data.next_since;
      if (!page.body.data.has_more) break;
    }
    const view = applyEvents(events);

    // The server's truth, as the online phone sees it by reloading.
    for (const roomId of [group, direct]) {
      const listed = await phone.http<{ messages: Message[] }>(
        'GET',
        `/api/chat/rooms/${roomId}/messages?limit=100`,
      );
      const truth = listed.body.data.messages.map((m) => m.id).sort();
      expect([...(view.messages.get(roomId)?.keys() ?? [])].sort()).toEqual(truth);
    }
    expect(view.archived.get(group)).toBe(true);
    expect(view.messages.get(group)?.has(g1.id)).toBe(true);
    // A deleted message never comes back as a live message alone.
    const live = events.filter(
      (e) => e.event === 'new-chat-message' && (e.data.message as Message).id === doomed.id,
    );
    const deletion = events.findIndex(
      (e) => e.event === 'message-deleted' && e.data.message_id === doomed.id,
    );
    if (live.length > 0) expect(deletion).toBeGreaterThanOrEqual(0);

    // Caught up: the next call brings nothing new.
    const after = await syncPage(tablet, since);
    const fresh = after.body.data.events.filter(
      (e) =>
        e.event === 'new-chat-message' &&
        !view.messages
          .get((e.data.message as Message).room_id)
          ?.has((e.data.message as Message).id),
    );
    expect(fresh).toEqual([]);
  }, 60_000);

  it('never shows another user’s rooms, and a cursor is bound to its user', async () => {
    const [dan, eve] = await Promise.all([env.client('s_dan'), env.client('s_eve')]);
    const start = (await syncPage(eve)).body.data.next_since;
    const room = (
      await dan.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Private',
        member_ids: [],
      })
    ).body.data.id;
    await dan.http('POST', `/api/chat/rooms/${room}/messages`, { content: 'only dan' });
    const page = await syncPage(eve, start);
    expect(JSON.stringify(page.body.data.events)).not.toContain(room);
    // Dan's cursor is no cursor for Eve.
    const dans = (await syncPage(dan)).body.data.next_since;
    expect((await syncPage(eve, dans)).status).toBe(400);
  });

  it('brings membership changes and key changes: added, removed (also to the one removed), key rotated', async () => {
    const [ida, jon, kay] = await Promise.all([
      env.client('s_ida'),
      env.client('s_jon'),
      env.client('s_kay'),
    ]);
    const [jonStart, kayStart] = [
      (await syncPage(jon)).body.data.next_since,
      (await syncPage(kay)).body.data.next_since,
    ];
    const room = (
      await ida.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Members',
        member_ids: ['s_jon'],
      })
    ).body.data.id;
    expect(
      (await ida.http('POST', `/api/chat/rooms/${room}/members`, { user_ids: ['s_kay'] })).status,
    ).toBe(200);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(
      (
        await ida.http('POST', '/api/chat/encryption/keys', {
          public_key: pem,
          device_id: 'phone',
          key_id: 'k1',
        })
      ).status,
    ).toBe(200);
    expect((await ida.http('DELETE', `/api/chat/rooms/${room}/members/s_kay`)).status).toBe(200);

    const jonEvents = (await syncPage(jon, jonStart)).body.data.events;
    expect(jonEvents).toContainEqual({
      event: 'room-member-added',
      data: { room_id: room, user_ids: ['s_kay'], added_by: 's_ida' },
    });
    expect(jonEvents).toContainEqual({
      event: 'room-member-removed',
      data: { room_id: room, user_id: 's_kay', removed_by: 's_ida' },
    });
    expect(jonEvents.map((e) => e.event)).toContain('encryption-key-changed');
    // Kay is no longer a member, and still learns she was removed.
    const kayEvents = (await syncPage(kay, kayStart)).body.data.events;
    expect(kayEvents).toContainEqual({
      event: 'room-member-removed',
      data: { room_id: room, user_id: 's_kay', removed_by: 's_ida' },
    });
  });

  it('brings a leave to the leaver’s other devices: what their live connections got', async () => {
    const [phone, tablet, lia] = await Promise.all([
      env.client('s_leo'),
      env.client('s_leo'),
      env.client('s_lia'),
    ]);
    const shared = (
      await lia.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Leo leaves',
        member_ids: ['s_leo'],
      })
    ).body.data.id;
    // Leo alone in a group: leaving it as its last member removes it.
    const alone = (
      await phone.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Leo alone',
        member_ids: [],
      })
    ).body.data.id;
    const start = (await syncPage(tablet)).body.data.next_since;
    await phone.connect();
    for (const room of [shared, alone]) {
      expect((await phone.http('DELETE', `/api/chat/rooms/${room}`)).status).toBe(200);
      await phone.waitFor('room-deleted', (d) => d.room_id === room);
      await phone.waitFor('room-member-removed', (d) => d.room_id === room);
    }
    const synced = (await syncPage(tablet, start)).body.data.events;
    for (const room of [shared, alone]) {
      const left = { room_id: room, user_id: 's_leo', removed_by: 's_leo' };
      expect(synced).toContainEqual({ event: 'room-member-removed', data: left });
      // The tablet gets what the phone heard live about the room, no more, no less.
      const about = (frames: Frame[]) =>
        frames
          .filter((f) => f.data.room_id === room)
          .map((f) => JSON.stringify({ event: f.event, data: f.data }))
          .sort();
      expect(about(synced)).toEqual(about(phone.frames));
    }
  });

  it('refuses a malformed cursor (400) and one older than the window (410 CURSOR_EXPIRED)', async () => {
    const fay = await env.client('s_fay');
    const bad = await syncPage(fay, 'not-a-cursor');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('VALIDATION_ERROR');
    const old = sealCursor('sync', 's_fay', { k: '2020-01-01T00:00:00.000Z#', tail: true });
    const expired = await syncPage(fay, old);
    expect(expired.status).toBe(410);
    expect(expired.body.error?.code).toBe('CURSOR_EXPIRED');
  });

  it('answers the sync action with sync-result over WebSocket', async () => {
    const [gil, hal] = await Promise.all([env.client('s_gil'), env.client('s_hal')]);
    const start = (await syncPage(gil)).body.data.next_since;
    const room = (
      await hal.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['s_gil'],
      })
    ).body.data.id;
    const sent = (
      await hal.http<Message>('POST', `/api/chat/rooms/${room}/messages`, { content: 'hi gil' })
    ).body.data;
    await gil.connect();
    gil.send({ action: 'sync', since: start });
    const result = await gil.waitFor('sync-result');
    const ids = (result.data.events as Frame[])
      .filter((e) => e.event === 'new-chat-message')
      .map((e) => (e.data.message as Message).id);
    expect(ids).toContain(sent.id);
    expect(result.data).toMatchObject({ has_more: false, next_since: expect.any(String) });
  });

  it('pages sync-result over WebSocket in messages of at most 128 KB: every long message arrives, none twice', async () => {
    // Issue 24 B1: API Gateway (and the local gateway) refuses a message over 128 KB,
    // and the client then gets nothing at all.
    const [ivy, jay] = await Promise.all([env.client('s_ivy'), env.client('s_jay')]);
    const start = (await syncPage(ivy)).body.data.next_since;
    const room = (
      await jay.http<{ id: string }>('POST', '/api/chat/rooms', {
        type: 'direct',
        member_ids: ['s_ivy'],
      })
    ).body.data.id;
    // 30 messages of 10,000 characters, 3 bytes each in UTF-8: about 900 KB in all.
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const content = `${i} `.padEnd(10_000, '中');
      const answer = await jay.http<Message>('POST', `/api/chat/rooms/${room}/messages`, {
        content,
      });
      expect(answer.status).toBe(201);
      sent.push(answer.body.data.id);
    }
    const socket = await ivy.connect();
    const sizes: number[] = [];
    socket.on('message', (raw: Buffer) => sizes.push(raw.length));

    const ids: string[] = [];
    const pages: Frame[] = [];
    let since = start;
    for (let n = 0; n < 40; n++) {
      const earlier = new Set(ivy.eventsNamed('sync-result').map((f) => f.data));
      ivy.send({ action: 'sync', since });
      const page = await ivy.waitFor('sync-result', (d) => !earlier.has(d));
      pages.push(page);
      for (const e of page.data.events as Frame[])
        if (e.event === 'new-chat-message') ids.push((e.data.message as Message).id);
      since = page.data.next_since as string;
      if (!page.data.has_more) break;
    }
    expect(pages.at(-1)!.data.has_more).toBe(false);
    // Cut by bytes: more than one page, though 30 events are far below the count limit.
    expect(pages.length).toBeGreaterThan(6);
    expect(pages[0]!.data.has_more).toBe(true);
    expect(sizes.length).toBeGreaterThanOrEqual(pages.length);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(128 * 1024);
    // Together the pages hold every message, each once.
    expect(ids.length).toBe(new Set(ids).size);
    expect([...ids].sort()).toEqual([...sent].sort());
  }, 60_000);
});
