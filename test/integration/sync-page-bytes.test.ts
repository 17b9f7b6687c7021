import { afterAll, beforeAll, expect, it } from 'vitest';
import { caller, localAws } from './support.ts';

/**
 * Issue 24 B1: a sync page is one `sync-result` WebSocket message, and API
 * Gateway refuses a message over 128 KB (the post fails, the client gets
 * nothing). 200 messages of 10,000 characters are about 2 MB: the page must
 * end early, with `has_more`, and the next page go on right after its last
 * event, so paging still gives every message exactly once.
 */
let aws: Awaited<ReturnType<typeof localAws>>;
let app: typeof import('#domain/messages.ts') &
  typeof import('#domain/rooms.ts') &
  typeof import('#domain/sync.ts');
let limits: typeof import('#platform/limits.ts');

beforeAll(async () => {
  aws = await localAws();
  app = {
    ...(await import('#domain/messages.ts')),
    ...(await import('#domain/rooms.ts')),
    ...(await import('#domain/sync.ts')),
  };
  limits = await import('#platform/limits.ts');
});
afterAll(async () => aws?.stop());

interface Frame {
  event: string;
  data: { message: { id: string; created_at: string } };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

it('cuts a page of 200 long messages to fit a WebSocket message: has_more, and the next page goes on with no gap', async () => {
  const { LIMITS, WS_MESSAGE_BYTES } = limits;
  const [a, b] = [caller('pb_a'), caller('pb_b')];
  const room = (await app.createRoom(a, { type: 'group', name: 'long', member_ids: [b.userId] }))
    .room.id;
  const start = (await app.sync(a, undefined, 10)).next_since;
  const sent: { id: string; position: string }[] = [];
  for (let i = 0; i < 200; i++) {
    // Mixed widths: ASCII, and 3-byte characters (bytes, not characters, fill a message).
    const content =
      `${i}:`.padEnd(LIMITS.contentChars - 2_000, i % 2 ? 'x' : 'é') + '中'.repeat(2_000);
    const { message } = await app.sendMessage(b, room, {
      content,
      message_type: 'text',
      is_encrypted: false,
    });
    sent.push({ id: message.id, position: `${message.created_at}#${message.id}` });
  }

  const pages: { events: Frame[]; has_more: boolean; frameBytes: number }[] = [];
  let since = start;
  for (let n = 0; n < 200; n++) {
    const page = await app.sync(a, since, LIMITS.syncPageDefault);
    pages.push({
      events: page.events as unknown as Frame[],
      has_more: page.has_more,
      // What ws/sync.ts posts: the page as one sync-result frame.
      frameBytes: bytes({ event: 'sync-result', data: page }),
    });
    since = page.next_since;
    if (!page.has_more) break;
  }

  // The first page was cut by bytes, not by the count of 200, and says there is more.
  expect(pages[0]!.events.length).toBeGreaterThan(0);
  expect(pages[0]!.events.length).toBeLessThan(200);
  expect(pages[0]!.has_more).toBe(true);
  for (const page of pages) {
    expect(page.frameBytes).toBeLessThanOrEqual(WS_MESSAGE_BYTES);
    expect(bytes(page.events)).toBeLessThanOrEqual(LIMITS.syncPageBytes);
  }
  // About 3.6 MB in pages of at most 120 KiB: some 30 pages, the last one caught up.
  expect(pages.length).toBeGreaterThan(25);
  expect(pages.at(-1)!.has_more).toBe(false);

  const live = pages.flatMap((p) =>
    p.events.filter((e) => e.event === 'new-chat-message').map((e) => e.data.message),
  );
  const ids = live.map((m) => m.id);
  // Every message exactly once (counted, not de-duplicated first): nothing skipped at a cut.
  expect(ids.length).toBe(new Set(ids).size);
  expect([...ids].sort()).toEqual(sent.map((m) => m.id).sort());
  // Each page starts right after the previous one's last event, in sync order.
  const positions = live.map((m) => `${m.created_at}#${m.id}`);
  expect(positions).toEqual([...positions].sort());
}, 180_000);
