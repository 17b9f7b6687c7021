import { describe, expect, it } from 'vitest';
import { requireInRoom, requireMember } from '#domain/membership.ts';
import { newMemberState, type RoomRecord } from '#domain/model.ts';

const room: RoomRecord = {
  id: 'r_1',
  type: 'group',
  name: 'Team',
  created_by: 'u_a',
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  members: { u_a: '2026-01-01T00:00:00.000Z' },
  admins: { u_a: '2026-01-01T00:00:00.000Z' },
  cleared_seq: 0,
  cleared_at: null,
};
const state = newMemberState('u_a', 'r_1', room.created_at);
const outcome = (check: () => unknown) => {
  try {
    check();
    return 'ok';
  } catch (e) {
    return `${(e as { status: number }).status} ${(e as Error).message}`;
  }
};

describe('the membership guard', () => {
  it('answers 404 for a missing or gone room and 403 for a non-member, naming a batch room', () => {
    expect(outcome(() => requireMember('u_a', room, state))).toBe('ok');
    expect(outcome(() => requireMember('u_a', undefined, state))).toBe('404 Room not found');
    expect(outcome(() => requireMember('u_a', room, state, { gone: true }))).toBe(
      '404 Room not found',
    );
    expect(outcome(() => requireMember('u_b', room, undefined))).toBe(
      '403 You are not a member of this room',
    );
    expect(outcome(() => requireMember('u_a', room, undefined, { which: 'r_1' }))).toBe(
      '403 You are not a member of room r_1',
    );
    expect(outcome(() => requireInRoom('u_b', undefined, 'r_9'))).toBe('404 Room r_9 not found');
    // Own properties only: a built-in name is nobody's membership.
    expect(outcome(() => requireInRoom('constructor', room))).toBe(
      '403 You are not a member of this room',
    );
  });
});
