import { describe, expect, it } from 'vitest';
import { setTestEnv } from './support.ts';

setTestEnv();
const { withinBytes } = await import('#domain/sync.ts');

/** A sync page's byte cap (issue 24 B1; the page itself: test/integration/sync-page-bytes.test.ts). */
describe('withinBytes', () => {
  const event = (id: string, content: string) => ({
    key: id,
    frame: { event: 'new-chat-message', data: { message: { id, content } } },
  });
  const arrayBytes = (events: { frame: unknown }[]) =>
    Buffer.byteLength(JSON.stringify(events.map((e) => e.frame)), 'utf8');

  it('keeps the longest run from the first whose events array fits, counted in UTF-8 bytes', () => {
    const events = [event('a', 'é'.repeat(100)), event('b', '中'.repeat(100)), event('c', 'x')];
    const all = arrayBytes(events);
    expect(withinBytes(events, all)).toEqual(events);
    expect(withinBytes(events, all - 1)).toEqual(events.slice(0, 2));
    expect(withinBytes(events, arrayBytes(events.slice(0, 2)))).toEqual(events.slice(0, 2));
    expect(withinBytes(events, arrayBytes(events.slice(0, 2)) - 1)).toEqual(events.slice(0, 1));
    // In characters the first two (345) fit in 600; in bytes (645) only the first does.
    expect(withinBytes(events, 600)).toEqual(events.slice(0, 1));
  });

  it('always keeps the first event, so paging moves on; nothing in, nothing out', () => {
    const big = event('a', 'x'.repeat(1000));
    expect(withinBytes([big, event('b', 'y')], 10)).toEqual([big]);
    expect(withinBytes([], 10)).toEqual([]);
  });
});
