import { resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, requireChromium } from '../support/chromium.ts';
import { startStack } from '../support/stack.ts';

/**
 * The playground (/playground) and the API reference (/docs) in headless
 * Chromium (Debian's package; .ci/run installs it): two users exchange a
 * message, the receiver's unread badge appears and clears when they read it,
 * and the sender sees the read receipt; a user sends a picture from the file picker and
 * both panes show it, the same bytes; a user blocks the other (sends refused both ways, shown
 * readably, until unblocked) and the other reports a message (the report id shown). With
 * SAVE_SCREENSHOT=1 it saves docs/playground.png.
 */
const available = chromiumAvailable;
requireChromium('playground.test.ts');

type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!available) return;
  env = await startStack();
  browser = await launchChromium([
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
});
afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

const suffix = Date.now().toString(36);

async function signIn(pane: Locator, user: string, name: string) {
  await pane.getByLabel('user id').fill(user);
  await pane.getByLabel('name').fill(name);
  await pane.getByTestId('sign-in').click();
  await expect
    .poll(() => pane.getByTestId('state').textContent(), { timeout: 10_000 })
    .toBe('open');
}

/** A small RGB PNG (a gradient), built here so the test owns the exact bytes. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      rows.set([(x * 255) / width, (y * 255) / height, 128], y * (1 + width * 3) + 1 + x * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** What the browser's <img> elements report (the test's tsconfig has no DOM types). */
interface Img {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
  src: string;
}

/** The pane's pictures once loaded: [naturalWidth, naturalHeight, src] each. */
function pictures(pane: Locator) {
  return pane
    .getByTestId('attachment-image')
    .evaluateAll((imgs) =>
      (imgs as unknown as Img[]).map((img) => [
        img.complete ? img.naturalWidth : 0,
        img.naturalHeight,
        img.src,
      ]),
    );
}

describe.skipIf(!available)('playground in headless Chromium', () => {
  it('two users exchange a message; the badge appears, clears on reading, and the sender sees the receipt', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${env.stack.httpUrl}/playground`);
    const alice = page.getByTestId('pane-0');
    const bob = page.getByTestId('pane-1');
    await signIn(alice, `u_pg_alice_${suffix}`, 'Alice');
    await signIn(bob, `u_pg_bob_${suffix}`, 'Bob');

    await alice.getByTestId('new-members').fill(`u_pg_bob_${suffix}`);
    await alice.getByTestId('create-room').click();
    await alice.getByTestId('composer').fill('hello Bob');
    await alice.getByTestId('send').click();
    await expect
      .poll(() => alice.getByTestId('message').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('hello Bob')]);

    // Bob's room list shows the new room with an unread badge of 1.
    const bobRoom = bob.getByTestId('room').first();
    await expect
      .poll(() => bobRoom.getByTestId('badge').textContent(), { timeout: 10_000 })
      .toBe('1');
    // A second message moves the badge to 2, live.
    await alice.getByTestId('composer').fill('are you there?');
    await alice.getByTestId('send').click();
    await expect
      .poll(() => bobRoom.getByTestId('badge').textContent(), { timeout: 10_000 })
      .toBe('2');

    // Bob opens the room: he reads both, the badge clears, Alice sees "seen".
    await bobRoom.click();
    await expect
      .poll(() => bob.getByTestId('message').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('hello Bob'), expect.stringContaining('are you there?')]);
    await expect.poll(() => bobRoom.getByTestId('badge').count(), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => alice.getByTestId('receipt').allTextContents(), { timeout: 10_000 })
      .toEqual(['seen ✓✓', 'seen ✓✓']);

    // Bob answers; it appears in Alice's open room live.
    await bob.getByTestId('composer').fill('hi Alice!');
    await bob.getByTestId('send').click();
    await expect
      .poll(() => alice.getByTestId('message').last().textContent(), { timeout: 10_000 })
      .toContain('hi Alice!');
    // Alice has the room open: what arrives there is read at once, so no badge once her list
    // shows Bob's message.
    const aliceRoom = alice.getByTestId('room').first();
    await expect.poll(() => aliceRoom.textContent(), { timeout: 10_000 }).toContain('hi Alice!');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await aliceRoom.getByTestId('badge').count()).toBe(0);
    expect(errors).toEqual([]);
    // The README's picture: written when asked for (SAVE_SCREENSHOT=1), so a test run
    // leaves the tree as it found it.
    if (process.env.SAVE_SCREENSHOT === '1')
      await page.screenshot({ path: resolve(import.meta.dirname, '../../docs/playground.png') });
    else expect((await page.screenshot()).length).toBeGreaterThan(10_000);
  }, 60_000);

  it('a user sends a picture from the file picker; both panes show it, the same bytes', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${env.stack.httpUrl}/playground`);
    const carol = page.getByTestId('pane-0');
    const dan = page.getByTestId('pane-1');
    await signIn(carol, `u_pg_carol_${suffix}`, 'Carol');
    await signIn(dan, `u_pg_dan_${suffix}`, 'Dan');
    await carol.getByTestId('new-members').fill(`u_pg_dan_${suffix}`);
    await carol.getByTestId('create-room').click();
    await carol.getByTestId('composer').fill('a picture is coming');
    await carol.getByTestId('send').click();
    // Dan opens the room first, so the picture reaches him live (new-chat-message).
    const danRoom = dan.getByTestId('room').first();
    await expect.poll(() => danRoom.textContent(), { timeout: 10_000 }).toContain('coming');
    await danRoom.click();
    await expect
      .poll(() => dan.getByTestId('message').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('a picture is coming')]);

    const bytes = png(37, 23);
    await carol
      .getByTestId('attach')
      .setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: bytes });
    for (const pane of [carol, dan]) {
      await expect
        .poll(() => pictures(pane), { timeout: 15_000 })
        .toEqual([[37, 23, expect.stringMatching(/^http/)]]);
      const [[, , src]] = (await pictures(pane)) as [[number, number, string]];
      const res = await fetch(src);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      expect(await pane.getByTestId('attachment-image').getAttribute('alt')).toBe('gradient.png');
    }
    await expect.poll(() => danRoom.textContent(), { timeout: 10_000 }).toContain('📎 attachment');
    for (const pane of [carol, dan])
      expect(await pane.getByTestId('log').textContent()).not.toMatch(/failed|error/i);
    expect(errors).toEqual([]);
  }, 60_000);

  it('Block stops sends both ways until lifted, shown from GET /blocks; Report shows the report id or the refusal', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${env.stack.httpUrl}/playground`);
    const erinId = `u_pg_erin_${suffix}`;
    const frankId = `u_pg_frank_${suffix}`;
    const ginaId = `u_pg_gina_${suffix}`;
    const erin = page.getByTestId('pane-0');
    const frank = page.getByTestId('pane-1');
    await signIn(erin, erinId, 'Erin');
    await signIn(frank, frankId, 'Frank');
    /** Erin's view of the stack, straight over HTTP, to check what the buttons did. */
    const erinToken = await env.stack.issueToken(erinId, 'Erin');
    const asErin = async (path: string) => {
      const res = await fetch(`${env.stack.httpUrl}${path}`, {
        headers: { authorization: `Bearer ${erinToken}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: unknown }).data;
    };
    const blockedIds = (pane: Locator) =>
      pane
        .getByTestId('blocked')
        .evaluateAll((els) =>
          els.map((el) => (el as unknown as { dataset: { user: string } }).dataset.user),
        );

    await erin.getByTestId('new-members').fill(frankId);
    await erin.getByTestId('create-room').click();
    await erin.getByTestId('composer').fill('hello Frank');
    await erin.getByTestId('send').click();
    const frankRoom = frank.getByTestId('room').first();
    await expect.poll(() => frankRoom.textContent(), { timeout: 10_000 }).toContain('hello Frank');
    await frankRoom.click();
    await expect
      .poll(() => frank.getByTestId('message').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringContaining('hello Frank')]);
    for (const pane of [erin, frank]) expect(await pane.getByTestId('no-blocks').count()).toBe(1);

    // Erin blocks Frank with the open direct room's button: her list (GET /blocks) shows him.
    const blockButton = erin.getByTestId('block');
    expect(await blockButton.textContent()).toBe(`Block ${frankId}`);
    await blockButton.click();
    await expect.poll(() => blockedIds(erin), { timeout: 10_000 }).toEqual([frankId]);
    await expect
      .poll(() => blockButton.textContent(), { timeout: 5_000 })
      .toBe(`Unblock ${frankId}`);
    expect(await erin.getByTestId('notice').textContent()).toContain(
      `You block ${frankId}: neither of you can send here until you unblock.`,
    );
    expect(await asErin('/api/chat/blocks')).toEqual({
      blocked: [{ user_id: frankId, blocked_at: expect.any(String) }],
    });
    // Nothing tells Frank (CONTRACT §9) but the refusal: his send is BLOCKED, shown in his pane.
    expect(await frank.getByTestId('no-blocks').count()).toBe(1);
    await frank.getByTestId('composer').fill('are you there?');
    await frank.getByTestId('send').click();
    await expect
      .poll(() => frank.getByTestId('notice').textContent(), { timeout: 10_000 })
      .toMatch(/^Not sent — BLOCKED: A block stands between/);
    // Both ways: Erin can't write either, and her pane says how to lift it.
    await erin.getByTestId('composer').fill('bye');
    await erin.getByTestId('send').click();
    await expect
      .poll(() => erin.getByTestId('notice').textContent(), { timeout: 10_000 })
      .toContain(
        `BLOCKED: A block stands between the members of this conversation (you block ${frankId}: unblock to write again)`,
      );
    for (const pane of [erin, frank])
      expect(await pane.getByTestId('message').allTextContents()).toEqual([
        expect.stringContaining('hello Frank'),
      ]);
    const room = (await asErin('/api/chat/rooms')) as { rooms: { id: string }[] };
    const stored = (await asErin(`/api/chat/rooms/${room.rooms[0]!.id}/messages`)) as {
      messages: { content: string }[];
    };
    expect(stored.messages.map((m) => m.content)).toEqual(['hello Frank']);

    // Erin unblocks from her list: it empties, and Frank's next send reaches her live.
    await erin.getByTestId('unblock').click();
    await expect.poll(() => erin.getByTestId('no-blocks').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => blockButton.textContent(), { timeout: 5_000 }).toBe(`Block ${frankId}`);
    expect(await asErin('/api/chat/blocks')).toEqual({ blocked: [] });
    // The room's "Not sent" gives way to what changed.
    expect(await erin.getByTestId('notice').textContent()).toContain(
      `You no longer block ${frankId}.`,
    );
    await frank.getByTestId('composer').fill('back again');
    await frank.getByTestId('send').click();
    await expect
      .poll(() => erin.getByTestId('message').last().textContent(), { timeout: 10_000 })
      .toContain('back again');
    await expect.poll(() => frank.getByTestId('notice').count(), { timeout: 5_000 }).toBe(0);

    // A chosen user, by id from the sidebar.
    await erin.getByTestId('block-user').fill(ginaId);
    await erin.getByTestId('block-chosen').click();
    await expect.poll(() => blockedIds(erin), { timeout: 10_000 }).toEqual([ginaId]);
    expect(await asErin('/api/chat/blocks')).toEqual({
      blocked: [{ user_id: ginaId, blocked_at: expect.any(String) }],
    });

    // Frank reports Erin's message (only others' messages have the button): reason and note go
    // to POST /api/chat/reports, and the pane shows the report_id it answered.
    expect(await frank.getByTestId('report').count()).toBe(1);
    await frank.getByTestId('report').click();
    expect(
      await frank
        .getByTestId('report-reason')
        .locator('option')
        .evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value)),
    ).toEqual(['spam', 'harassment', 'hate', 'sexual', 'violence', 'other']);
    await frank.getByTestId('report-reason').selectOption('harassment');
    await frank.getByTestId('report-note').fill('rude greeting');
    const isReport = (r: { url(): string; request(): { method(): string } }) =>
      r.url().endsWith('/api/chat/reports') && r.request().method() === 'POST';
    let answer = page.waitForResponse(isReport);
    await frank.getByTestId('report-submit').click();
    let res = await answer;
    expect(res.status()).toBe(201);
    expect(res.request().postDataJSON()).toEqual({
      message_id: expect.any(String),
      reason: 'harassment',
      note: 'rude greeting',
    });
    const { report_id } = ((await res.json()) as { data: { report_id: string } }).data;
    expect(report_id).toMatch(/\S/);
    await expect
      .poll(() => frank.getByTestId('report-id').textContent(), { timeout: 5_000 })
      .toBe(report_id);
    expect(await frank.getByTestId('notice').textContent()).toContain('Report sent');
    expect(await frank.getByTestId('report-form').count()).toBe(0);

    // A refused report shows the error envelope's code and message.
    await frank.getByTestId('report').click();
    await frank.getByTestId('report-note').fill('x'.repeat(1001));
    answer = page.waitForResponse(isReport);
    await frank.getByTestId('report-submit').click();
    res = await answer;
    expect(res.status()).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    await expect
      .poll(() => frank.getByTestId('notice').textContent(), { timeout: 5_000 })
      .toContain(`Report not sent — VALIDATION_ERROR: ${error.message}`);
    expect(errors).toEqual([]);
  }, 60_000);

  it('serves the API reference at /docs from swagger-ui-dist, with the AsyncAPI page', async () => {
    await page.goto(`${env.stack.httpUrl}/docs`);
    await expect
      .poll(() => page.locator('.opblock-summary-path').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(20);
    await page.locator('#tab-ws').click();
    await expect
      .poll(() => page.locator('#ws section h3').allTextContents(), { timeout: 5_000 })
      .toEqual(expect.arrayContaining([expect.stringContaining('sync-result')]));
    // The WebSocket page is rendered: a field table and an example frame per message,
    // Markdown's backticks as code, and the servers this stack listens on.
    const send = page.locator('#ws-send-message');
    expect(await send.locator('table td code').allTextContents()).toEqual(
      expect.arrayContaining(['room_id', 'content', 'temp_id']),
    );
    expect(JSON.parse((await send.locator('pre').textContent())!)).toMatchObject({
      action: 'send-message',
    });
    expect(await page.locator('#ws').textContent()).not.toContain('`');
    expect(await page.locator('#ws').textContent()).toContain(
      `local: ${env.stack.wsUrl.replace(/\/$/, '')}`,
    );
    const openapi = (await (await fetch(`${env.stack.httpUrl}/docs/openapi.json`)).json()) as {
      servers: { url: string }[];
    };
    expect(openapi.servers[0]!.url).toBe(env.stack.httpUrl);
    // `/` points to both.
    await page.goto(`${env.stack.httpUrl}/`);
    expect(
      await page.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))),
    ).toEqual(expect.arrayContaining(['/docs/', '/playground/']));
  }, 30_000);
});
