import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberState, newMemberState } from '#domain/model.ts';
import { isHidden, unreadCount } from '#domain/unread.ts';

const member = (patch: Partial<MemberState>): MemberState => ({
  ...newMemberState('u_a', 'room', '2026-01-01T00:00:00.000Z'),
  ...patch,
});
const head = (seq: number, deleted_seqs: number[] = []) => ({ seq, deleted_seqs });
const room = (cleared_seq = 0) => ({ cleared_seq });

describe('unreadCount', () => {
  it('counts numbers after the read marker, less deleted ones and tombstones inside the window', () => {
    expect(unreadCount(member({ read_seq: 4 }), room(), head(10))).toBe(6);
    expect(unreadCount(member({ read_seq: 4 }), room(), head(10, [3, 5, 10, 11]))).toBe(4);
  });

  it('uses the highest of the read, clear-for-me and clear-for-everyone markers', () => {
    expect(unreadCount(member({ read_seq: 2, cleared_seq: 7 }), room(), head(10))).toBe(3);
    expect(unreadCount(member({ read_seq: 2 }), room(9), head(10))).toBe(1);
  });

  it('floors at 0 when a read is ahead of the head it was given', () => {
    expect(unreadCount(member({ read_seq: 8 }), room(), head(3))).toBe(0);
  });

  it('shows at least 1 for a room marked unread by hand', () => {
    expect(unreadCount(member({ read_seq: 5, manual_unread: true }), room(), head(5))).toBe(1);
    expect(unreadCount(member({ read_seq: 5, manual_unread: true }), room(), head(9))).toBe(4);
  });

  it('hides a deleted direct room until a newer message exists', () => {
    expect(isHidden(member({ is_deleted: true, cleared_seq: 4 }), head(4))).toBe(true);
    expect(isHidden(member({ is_deleted: true, cleared_seq: 4 }), head(5))).toBe(false);
    expect(isHidden(member({ is_deleted: false }), head(0))).toBe(false);
  });

  it('equals a direct count over any history (oracle)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 40 })),
        (top, read, cleared, roomCleared, deleted) => {
          const expected = Array.from({ length: top }, (_, i) => i + 1).filter(
            (seq) => seq > Math.max(read, cleared, roomCleared) && !deleted.includes(seq),
          ).length;
          expect(
            unreadCount(
              member({ read_seq: read, cleared_seq: cleared }),
              room(roomCleared),
              head(top, deleted),
            ),
          ).toBe(expected);
        },
      ),
    );
  });
});
