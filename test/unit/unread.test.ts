import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MemberState } from '#domain/model.ts';
import { unreadCount } from '#domain/unread.ts';
import { newMemberState } from '#store/members.ts';

const member = (patch: Partial<MemberState>): MemberState => ({
  ...newMemberState('u_a', 'room', '2026-01-01T00:00:00.000Z'),
  ...patch,
});

describe('unreadCount', () => {
  it('counts messages after the read marker, less deleted ones inside the window', () => {
    expect(unreadCount(member({ room_seq: 10, read_seq: 4 }))).toBe(6);
    expect(unreadCount(member({ room_seq: 10, read_seq: 4, deleted_seqs: [3, 5, 10, 11] }))).toBe(
      4,
    );
  });

  it('uses the highest of the read, clear-for-me and clear-for-everyone markers', () => {
    expect(unreadCount(member({ room_seq: 10, read_seq: 2, cleared_seq: 7 }))).toBe(3);
    expect(unreadCount(member({ room_seq: 10, read_seq: 2 }), { seq: 10, cleared_seq: 9 })).toBe(1);
  });

  it('takes the fresher room seq, and floors at 0 when a read is ahead of the stream', () => {
    expect(unreadCount(member({ room_seq: 3, read_seq: 3 }), { seq: 5, cleared_seq: 0 })).toBe(2);
    expect(unreadCount(member({ room_seq: 3, read_seq: 8 }))).toBe(0);
  });

  it('shows at least 1 for a room marked unread by hand', () => {
    expect(unreadCount(member({ room_seq: 5, read_seq: 5, manual_unread: true }))).toBe(1);
    expect(unreadCount(member({ room_seq: 9, read_seq: 5, manual_unread: true }))).toBe(4);
  });

  it('equals a direct count over any history (oracle)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 40 })),
        (top, read, cleared, deleted) => {
          const expected = Array.from({ length: top }, (_, i) => i + 1).filter(
            (seq) => seq > Math.max(read, cleared) && !deleted.includes(seq),
          ).length;
          expect(
            unreadCount(
              member({
                room_seq: top,
                read_seq: read,
                cleared_seq: cleared,
                deleted_seqs: deleted,
              }),
            ),
          ).toBe(expected);
        },
      ),
    );
  });
});
