import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../support/chat-client.ts';
import { eventually } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/** Issue 4 through the local stack: delete, clear, archive, mute, and their events. */
type Env = Awaited<ReturnType<typeof startStack>>;
type Room = {
  id: string;
  members: string[];
  admins: string[];
  is_archived: boolean;
  is_muted: boolean;
  muted_until: string | null;
  unread_count: number;
};
type Message = { id: string; content: string };
type Page<T> = { messages: T[]; rooms: T[] };

let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

const contents = async (c: ChatClient, roomId: string) =>
  (await c.http<Page<Message>>('GET', `/api/chat/rooms/${roomId}/messages`)).body.data.messages.map(
    (m) => m.content,
  );
const roomIds = async (c: ChatClient, query = '') =>
  (await c.http<Page<Room>>('GET', `/api/chat/rooms${query}`)).body.data.rooms.map((r) => r.id);

describe('DELETE /api/chat/rooms/:id', () => {
  it('hides a direct chat for the caller only; a new message brings it back with only newer messages', async () => {
    const [amy, bo] = await Promise.all([env.client('c_amy'), env.client('c_bo')]);
    const room = (
      await amy.http<Room>('POST', '/api/chat/rooms', { type: 'direct', member_ids: ['c_bo'] })
    ).body.data;
    await bo.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'before' });
    await amy.connect();
    const res = await amy.http<{ room_id: string; deleted_at: string }>(
      'DELETE',
      `/api/chat/rooms/${room.id}`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      message: 'Chat deleted successfully',
      data: { room_id: room.id },
    });
    await amy.waitFor('room-deleted', (d) => d.room_id === room.id && d.deleted_by === 'c_amy');

    expect(await roomIds(amy)).not.toContain(room.id);
    expect((await amy.http('GET', `/api/chat/rooms/${room.id}`)).status).toBe(404);
    expect(await roomIds(bo)).toContain(room.id);
    expect(await contents(bo, room.id)).toEqual(['before']);

    await bo.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'after' });
    await eventually(async () => expect(await roomIds(amy)).toContain(room.id));
    expect(await contents(amy, room.id)).toEqual(['after']);
  });

  it('hands admin to the longest-standing member when the only admin leaves a group', async () => {
    const [cy, di, ed] = await Promise.all([
      env.client('c_cy'),
      env.client('c_di'),
      env.client('c_ed'),
    ]);
    const room = (
      await cy.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'G',
        member_ids: ['c_di'],
      })
    ).body.data;
    await cy.http('POST', `/api/chat/rooms/${room.id}/members`, { user_ids: ['c_ed'] });
    expect((await cy.http('DELETE', `/api/chat/rooms/${room.id}`)).status).toBe(200);
    const after = (await di.http<Room>('GET', `/api/chat/rooms/${room.id}`)).body.data;
    expect(after.members.sort()).toEqual(['c_di', 'c_ed']);
    expect(after.admins).toEqual(['c_di']);
    expect((await cy.http('GET', `/api/chat/rooms/${room.id}`)).status).toBe(403);
    expect((await ed.http('DELETE', `/api/chat/rooms/${room.id}/members/c_di`)).status).toBe(403);
  });

  it('removes the room and, in the background, its messages when the last member leaves', async () => {
    const fox = await env.client('c_fox');
    const room = (
      await fox.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'Solo',
        member_ids: [],
      })
    ).body.data;
    for (let i = 0; i < 3; i++)
      await fox.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: `m${i}` });
    expect((await fox.http('DELETE', `/api/chat/rooms/${room.id}`)).status).toBe(200);
    expect((await fox.http('GET', `/api/chat/rooms/${room.id}`)).status).toBe(404);
    const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
    await eventually(async () => {
      const out = await env.stack.aws.dynamo.client.send(
        new QueryCommand({
          TableName: env.stack.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `ROOM#${room.id}` } },
        }),
      );
      expect(out.Count).toBe(0);
    }, 15_000);
  });

  it('refuses non-members and changes nothing', async () => {
    const [gil, hal] = await Promise.all([env.client('c_gil'), env.client('c_hal')]);
    const room = (
      await gil.http<Room>('POST', '/api/chat/rooms', { type: 'group', name: 'X', member_ids: [] })
    ).body.data;
    expect((await hal.http('DELETE', `/api/chat/rooms/${room.id}`)).status).toBe(403);
    expect((await hal.http('DELETE', `/api/chat/rooms/${room.id}/messages`)).status).toBe(403);
    expect(
      (await hal.http('PUT', `/api/chat/rooms/${room.id}/archive`, { is_archived: true })).status,
    ).toBe(403);
    expect((await gil.http('GET', `/api/chat/rooms/${room.id}`)).status).toBe(200);
  });
});

describe('DELETE /api/chat/rooms/:id/messages', () => {
  it('clears for the caller only; the other member still sees them', async () => {
    const [ida, jo] = await Promise.all([env.client('c_ida'), env.client('c_jo')]);
    const room = (
      await ida.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'C',
        member_ids: ['c_jo'],
      })
    ).body.data;
    await jo.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'old' });
    const res = await ida.http<{ for_everyone: boolean }>(
      'DELETE',
      `/api/chat/rooms/${room.id}/messages`,
    );
    expect(res.body.data).toMatchObject({
      room_id: room.id,
      for_everyone: false,
      cleared_at: expect.any(String),
    });
    expect(await contents(ida, room.id)).toEqual([]);
    expect(await contents(jo, room.id)).toEqual(['old']);
    expect((await ida.http<Room>('GET', `/api/chat/rooms/${room.id}`)).body.data.unread_count).toBe(
      0,
    );
    await jo.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'new' });
    expect(await contents(ida, room.id)).toEqual(['new']);
  });

  it('clears for everyone (admins only), broadcasting room-messages-cleared', async () => {
    const [kai, lu] = await Promise.all([env.client('c_kai'), env.client('c_lu')]);
    const room = (
      await kai.http<Room>('POST', '/api/chat/rooms', {
        type: 'group',
        name: 'E',
        member_ids: ['c_lu'],
      })
    ).body.data;
    await lu.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'gone soon' });
    expect(
      (await lu.http('DELETE', `/api/chat/rooms/${room.id}/messages?for_everyone=true`)).status,
    ).toBe(403);
    expect(await contents(kai, room.id)).toEqual(['gone soon']);
    await Promise.all([kai.connect(), lu.connect()]);
    const res = await kai.http('DELETE', `/api/chat/rooms/${room.id}/messages?for_everyone=true`);
    expect(res.status).toBe(200);
    for (const c of [kai, lu]) {
      const ev = await c.waitFor('room-messages-cleared', (d) => d.room_id === room.id);
      expect(ev.data).toMatchObject({ cleared_by: 'c_kai', cleared_at: expect.any(String) });
    }
    expect(await contents(lu, room.id)).toEqual([]);
    expect(await contents(kai, room.id)).toEqual([]);
  });
});

describe('archive and mute', () => {
  it('archives and unarchives for one user, listed by ?archived=, and keeps counting unread', async () => {
    const [max, ned] = await Promise.all([env.client('c_max'), env.client('c_ned')]);
    const room = (
      await max.http<Room>('POST', '/api/chat/rooms', { type: 'direct', member_ids: ['c_ned'] })
    ).body.data;
    const archived = await max.http<{ is_archived: boolean; archived_at: string }>(
      'PUT',
      `/api/chat/rooms/${room.id}/archive`,
      { is_archived: true },
    );
    expect(archived.body).toMatchObject({
      success: true,
      message: 'Chat archived successfully',
      data: { room_id: room.id, is_archived: true },
    });
    expect(await roomIds(max, '?archived=true')).toEqual([room.id]);
    expect(await roomIds(max)).not.toContain(room.id);
    expect(await roomIds(ned)).toContain(room.id);
    await ned.http('POST', `/api/chat/rooms/${room.id}/messages`, { content: 'still archived?' });
    await eventually(async () => {
      const listed = (await max.http<Page<Room>>('GET', '/api/chat/rooms?archived=true')).body.data
        .rooms;
      expect(listed.map((r) => [r.id, r.is_archived, r.unread_count])).toEqual([
        [room.id, true, 1],
      ]);
    });
    await max.http('PUT', `/api/chat/rooms/${room.id}/archive`, { is_archived: false });
    expect(await roomIds(max, '?archived=true')).toEqual([]);
    expect(await roomIds(max)).toContain(room.id);
  });

  it('mutes until a time, after which the room is no longer muted', async () => {
    const oz = await env.client('c_oz');
    const room = (
      await oz.http<Room>('POST', '/api/chat/rooms', { type: 'group', name: 'M', member_ids: [] })
    ).body.data;
    const until = new Date(Date.now() + 1500).toISOString();
    const res = await oz.http<{ is_muted: boolean; muted_until: string }>(
      'PUT',
      `/api/chat/rooms/${room.id}/mute`,
      { is_muted: true, muted_until: until },
    );
    expect(res.body.data).toMatchObject({ is_muted: true, muted_until: until });
    expect((await oz.http<Room>('GET', `/api/chat/rooms/${room.id}`)).body.data.is_muted).toBe(
      true,
    );
    await new Promise((r) => setTimeout(r, 1700));
    expect((await oz.http<Room>('GET', `/api/chat/rooms/${room.id}`)).body.data.is_muted).toBe(
      false,
    );
    expect(
      (await oz.http('PUT', `/api/chat/rooms/${room.id}/mute`, { is_muted: 'yes' })).status,
    ).toBe(400);
  });
});
