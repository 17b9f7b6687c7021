import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MemberState, newMemberState } from '#domain/model.ts';
import { isHidden, lastReadMessageId, unreadCount } from '#domain/unread.ts';
import { messageId } from '#store/messages.ts';

const member = (patch: Partial<MemberState>): MemberState => ({
  ...newMemberState('u_a', 'room', '2026-01-01T00:00:00.000Z'),
  ...patch,
});
const head = (
  seq: number,
  deleted_seqs: number[] = [],
  sent_seqs: Record<string, number> = {},
) => ({
  room_id: 'room',
  seq,
  deleted_seqs,
  sent_seqs,
});
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

  it("counts nothing up to the member's own newest send in a direct room (the head's sent_seqs)", () => {
    // u_a read up to 4, then sent 7 (the head recorded it): 5 and 6 (u_b's) are read too.
    expect(unreadCount(member({ read_seq: 4 }), room(), head(9, [], { u_a: 7, u_b: 9 }))).toBe(2);
    // Another member's sends move nothing for u_a.
    expect(unreadCount(member({ read_seq: 4 }), room(), head(9, [], { u_b: 9 }))).toBe(5);
    // A read past the own send wins (a max, either way).
    expect(unreadCount(member({ read_seq: 8 }), room(), head(9, [], { u_a: 7 }))).toBe(1);
  });

  it('names the own send as the last read message when it is past the read marker', () => {
    const m = member({ read_seq: 4, last_read_message_id: 'room#4' });
    expect(lastReadMessageId(m, head(9, [], { u_a: 7 }))).toBe(messageId('room', 7));
    expect(lastReadMessageId(m, head(9, [], { u_a: 3 }))).toBe('room#4');
  });

  it('ends a manual unread mark when the member sends after it, not before', () => {
    const marked = member({ read_seq: 5, manual_unread: true, manual_unread_seq: 6 });
    expect(unreadCount(marked, room(), head(6, [], { u_a: 5 }))).toBe(1);
    expect(unreadCount(marked, room(), head(7, [], { u_a: 7 }))).toBe(0);
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
        fc.integer({ min: 0, max: 40 }),
        (top, read, cleared, roomCleared, deleted, sent) => {
          // `sent`: the member's own newest send in a direct room (0: none), at most the top.
          const own = Math.min(sent, top);
          const expected = Array.from({ length: top }, (_, i) => i + 1).filter(
            (seq) => seq > Math.max(read, cleared, roomCleared, own) && !deleted.includes(seq),
          ).length;
          expect(
            unreadCount(
              member({ read_seq: read, cleared_seq: cleared }),
              room(roomCleared),
              head(top, deleted, own > 0 ? { u_a: own } : {}),
            ),
          ).toBe(expected);
        },
      ),
    );
  });
});
