import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, parseRule } from '#platform/rate-limit-rules.ts';
import type { ChatClient } from '../support/chat-client.ts';
import { startStack } from '../support/stack.ts';

/**
 * Consent to groups (CONTRACT §9, issue 21 item 5) over the local stack: the
 * settings routes, "nobody" refusing both ways into a group, and the
 * `addedToGroup` bucket charged to the user added, whoever adds them. The
 * stack runs the default limits: the test adds one user as often as the
 * default burst allows.
 */
type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
beforeAll(async () => {
  env = await startStack();
});
afterAll(async () => env?.stop());

type Settings = { who_can_add_me: string };
type Room = { id: string; type: string; members: string[] };

const settingsOf = (c: ChatClient) => c.http<Settings>('GET', '/api/chat/me/settings');
const putSettings = (c: ChatClient, body: unknown) =>
  c.http<Settings>('PUT', '/api/chat/me/settings', body);
const createGroup = (c: ChatClient, memberIds: string[], name = 'g') =>
  c.http<Room>('POST', '/api/chat/rooms', { type: 'group', name, member_ids: memberIds });
const addMembers = (c: ChatClient, roomId: string, userIds: string[]) =>
  c.http<Room>('POST', `/api/chat/rooms/${roomId}/members`, { user_ids: userIds });
const roomIdsOf = async (c: ChatClient) =>
  (await c.http<{ rooms: Room[] }>('GET', '/api/chat/rooms?limit=100')).body.data.rooms.map(
    (r) => r.id,
  );

describe('GET/PUT /api/chat/me/settings', () => {
  it('defaults to everyone, keeps what was put, and is per user', async () => {
    const ann = await env.client('gc_ann');
    const bob = await env.client('gc_bob');
    const fresh = await settingsOf(ann);
    expect(fresh.status).toBe(200);
    expect(fresh.body.data).toEqual({ who_can_add_me: 'everyone' });

    const put = await putSettings(ann, { who_can_add_me: 'nobody' });
    expect(put.status).toBe(200);
    expect(put.body.data).toEqual({ who_can_add_me: 'nobody' });
    expect((await settingsOf(ann)).body.data).toEqual({ who_can_add_me: 'nobody' });
    expect((await settingsOf(bob)).body.data).toEqual({ who_can_add_me: 'everyone' });

    expect((await putSettings(ann, { who_can_add_me: 'everyone' })).body.data).toEqual({
      who_can_add_me: 'everyone',
    });
    expect((await settingsOf(ann)).body.data).toEqual({ who_can_add_me: 'everyone' });
  });

  it('refuses an unknown field by name, a bad value and an empty body, changing nothing', async () => {
    const cy = await env.client('gc_cy');
    await putSettings(cy, { who_can_add_me: 'nobody' });
    const unknown = await putSettings(cy, { who_can_add_me: 'everyone', read_receipts: false });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toEqual({
      code: 'VALIDATION_ERROR',
      message: 'Invalid body: unknown field(s) read_receipts',
    });
    const bad = await putSettings(cy, { who_can_add_me: 'friends' });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/who_can_add_me/);
    expect((await putSettings(cy, {})).status).toBe(400);
    expect((await settingsOf(cy)).body.data).toEqual({ who_can_add_me: 'nobody' });
  });
});

describe('who_can_add_me: nobody', () => {
  it('refuses a new group naming them: 403 naming the user, nothing created', async () => {
    const owner = await env.client('gc_owner1');
    const shy = await env.client('gc_shy1');
    const open = await env.client('gc_open1');
    await putSettings(shy, { who_can_add_me: 'nobody' });
    const before = await roomIdsOf(owner);

    const refused = await createGroup(owner, ['gc_open1', 'gc_shy1']);
    expect(refused.status).toBe(403);
    expect(refused.body.error?.code).toBe('FORBIDDEN');
    expect(refused.body.error?.message).toContain('gc_shy1');
    expect(refused.body.error?.message).not.toContain('gc_open1');
    // No partial create: not for the owner, the willing member or the refusing one.
    expect(await roomIdsOf(owner)).toEqual(before);
    expect(await roomIdsOf(open)).toEqual([]);
    expect(await roomIdsOf(shy)).toEqual([]);
  });

  it('refuses adding them to a group: 403 naming the user, nobody added', async () => {
    const owner = await env.client('gc_owner2');
    const shy = await env.client('gc_shy2');
    const open = await env.client('gc_open2');
    await putSettings(shy, { who_can_add_me: 'nobody' });
    const room = (await createGroup(owner, [])).body.data;

    const refused = await addMembers(owner, room.id, ['gc_open2', 'gc_shy2']);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'FORBIDDEN' });
    expect(refused.body.error?.message).toContain('gc_shy2');
    const after = await owner.http<Room>('GET', `/api/chat/rooms/${room.id}`);
    expect(after.body.data.members).toEqual(['gc_owner2']);
    expect(await roomIdsOf(open)).toEqual([]);
    expect(await roomIdsOf(shy)).toEqual([]);
  });

  it('leaves direct rooms and their own groups alone; "everyone" again lets them be added', async () => {
    const owner = await env.client('gc_owner3');
    const shy = await env.client('gc_shy3');
    await putSettings(shy, { who_can_add_me: 'nobody' });

    const direct = await owner.http<Room>('POST', '/api/chat/rooms', {
      type: 'direct',
      member_ids: ['gc_shy3'],
    });
    expect(direct.status).toBe(201);
    expect(direct.body.data.members.sort()).toEqual(['gc_owner3', 'gc_shy3']);

    // Their own group, with others in it, and adding others to it.
    const own = await createGroup(shy, ['gc_owner3']);
    expect(own.status).toBe(201);
    expect((await addMembers(shy, own.body.data.id, ['gc_other3'])).status).toBe(200);

    const room = (await createGroup(owner, [])).body.data;
    expect((await addMembers(owner, room.id, ['gc_shy3'])).status).toBe(403);
    await putSettings(shy, { who_can_add_me: 'everyone' });
    const added = await addMembers(owner, room.id, ['gc_shy3']);
    expect(added.status).toBe(200);
    expect(added.body.data.members.sort()).toEqual(['gc_owner3', 'gc_shy3']);
    const created = await createGroup(owner, ['gc_shy3']);
    expect(created.status).toBe(201);
  });
});

describe('being added is limited per target (addedToGroup)', () => {
  it('refuses the add past the burst, by any adder, naming the target; others are unaffected', async () => {
    const burst = parseRule(DEFAULT_RATE_LIMITS.addedToGroup)!.burst;
    const ann = await env.client('gc_adder_a');
    const ben = await env.client('gc_adder_b');
    const target = await env.client('gc_target');
    const bystander = await env.client('gc_bystander');

    // Two adders share the target's one bucket: half by creating groups, half by adding.
    const benRooms: string[] = [];
    for (let i = 0; i < burst + 1; i++) benRooms.push((await createGroup(ben, [])).body.data.id);
    for (let i = 0; i < burst; i++) {
      const res =
        i % 2 === 0
          ? await createGroup(ann, ['gc_target'], `a${i}`)
          : await addMembers(ben, benRooms[i]!, ['gc_target']);
      expect(res.status, `add ${i + 1}`).toBeLessThan(300);
    }
    expect(await roomIdsOf(target)).toHaveLength(burst);

    // The next add, by either adder and either route, is refused and stores nothing.
    const annRooms = await roomIdsOf(ann);
    const created = await createGroup(ann, ['gc_target', 'gc_bystander'], 'one too many');
    expect(created.status).toBe(429);
    expect(created.body.error?.code).toBe('RATE_LIMITED');
    expect(created.body.error?.message).toContain('gc_target');
    expect(created.body.error?.message).not.toContain('gc_bystander');
    expect(Number(created.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await roomIdsOf(ann)).toEqual(annRooms);
    expect(await roomIdsOf(bystander)).toEqual([]);

    const added = await addMembers(ben, benRooms[burst]!, ['gc_target']);
    expect(added.status).toBe(429);
    expect(added.body.error?.message).toContain('gc_target');
    expect(added.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    const untouched = await ben.http<Room>('GET', `/api/chat/rooms/${benRooms[burst]}`);
    expect(untouched.body.data.members).toEqual(['gc_adder_b']);
    expect(await roomIdsOf(target)).toHaveLength(burst);

    // Neither adder is limited for anyone else, and the target can still create groups.
    expect((await addMembers(ben, benRooms[burst]!, ['gc_bystander'])).status).toBe(200);
    expect((await createGroup(ann, ['gc_bystander'])).status).toBe(201);
    expect((await createGroup(target, ['gc_adder_a'])).status).toBe(201);
  });
});
