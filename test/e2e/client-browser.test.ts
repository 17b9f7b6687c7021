import { resolve } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatClient } from '#client';
import { chromiumAvailable, launchChromium, requireChromium } from '../support/chromium.ts';
import { startStack } from '../support/stack.ts';

/**
 * The client in a browser (headless Chromium, as test/e2e/playground.test.ts
 * runs it), bundled as an app's bundler would: the browser's own WebSocket and
 * fetch, and `localStorage` as its `storage` (issue 25 items 2 and 3).
 * - A refused token: Chromium's WebSocket says nothing of the 401, so the
 *   client asks the HTTP API (createChatClient's authCheck) and ends as
 *   `unauthorized`, with no retries; a fresh token and start() connect.
 * - A reload: a second client on the same localStorage shows no message twice.
 * The page is served by the local HTTP API (the /docs page), so its calls are
 * same-origin.
 */
const available = chromiumAvailable;
requireChromium('client-browser.test.ts');

type Env = Awaited<ReturnType<typeof startStack>>;
let env: Env;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!available) return;
  env = await startStack();
  const bundle = await build({
    entryPoints: [resolve(import.meta.dirname, '../../client/src/index.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'chat',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${env.stack.httpUrl}/docs/`);
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
});
afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

/** Runs in the page: a client whose token the test can change, its states, refusals and shown messages. */
const pageSetup = `
window.clients = [];
window.makeClient = (httpUrl, wsUrl, token, realtime = {}) => {
  const c = { token, states: [], refusals: [], shown: [] };
  const { realtime: rt } = chat.createChatClient({
    httpUrl,
    wsUrl,
    token: () => c.token,
    realtime: { backoffInitialMs: 50, backoffMaxMs: 500, ...realtime },
  });
  c.rt = rt;
  rt.on('state', (s) => c.states.push(s));
  rt.on('unauthorized', (e) => c.refusals.push(e.code));
  rt.on('new-chat-message', ({ message }) => c.shown.push(message.content));
  window.clients.push(c);
  return window.clients.length - 1;
};
`;

describe.skipIf(!available)('client in a browser (Chromium)', () => {
  it('a refused token ends as unauthorized with no retries (asked over HTTP); a fresh token and start() connect', async () => {
    await page.evaluate(pageSetup);
    const { httpUrl, wsUrl } = env.stack;
    const i = await page.evaluate(
      ([h, w]) => {
        const n = (globalThis as never as { makeClient: (...a: unknown[]) => number }).makeClient(
          h,
          w,
          'not-a-token',
        );
        (globalThis as never as { clients: { rt: { start(): void } }[] }).clients[n]!.rt.start();
        return n;
      },
      [httpUrl, wsUrl],
    );
    const client = () =>
      page.evaluate((n) => {
        const c = (globalThis as never as { clients: Record<string, unknown>[] }).clients[n]!;
        return {
          state: (c.rt as { state: string }).state,
          states: c.states as string[],
          refusals: c.refusals as string[],
        };
      }, i);
    await expect.poll(async () => (await client()).state, { timeout: 10_000 }).toBe('unauthorized');
    await page.waitForTimeout(1000); // no retries meanwhile
    expect(await client()).toEqual({
      state: 'unauthorized',
      states: ['connecting', 'unauthorized'],
      refusals: ['UNAUTHORIZED'],
    });
    const good = await env.stack.issueToken('u_br_refused', 'Refused');
    await page.evaluate(
      ([n, t]) => {
        const c = (globalThis as never as { clients: { token: string; rt: { start(): void } }[] })
          .clients[n as number]!;
        c.token = t as string;
        c.rt.start();
      },
      [i, good],
    );
    await expect.poll(async () => (await client()).state, { timeout: 10_000 }).toBe('open');
  });

  it('with localStorage as storage, a reloaded app shows no message twice', async () => {
    const { httpUrl, wsUrl } = env.stack;
    const aliceToken = await env.stack.issueToken('u_br_alice', 'Alice');
    const alice = createChatClient({ httpUrl, wsUrl, token: () => aliceToken });
    const room = await alice.api.createRoom({ type: 'direct', member_ids: ['u_br_bob'] });
    const bobToken = await env.stack.issueToken('u_br_bob', 'Bob');
    // The cursor does not follow live events (0): the second client syncs from before b1,
    // so only the seen ids the first one saved keep b1–b3 from showing twice.
    const options = { storageKey: 'chat:u_br_bob', cursorFollowMs: 0 };
    const start = (token: string) =>
      page.evaluate(
        ([h, w, t, o]) => {
          const win = globalThis as never as {
            makeClient: (...a: unknown[]) => number;
            clients: { rt: { start(): void } }[];
          };
          const n = win.makeClient(h, w, t, {
            ...(o as object),
            storage: (globalThis as never as { localStorage: unknown }).localStorage,
          });
          win.clients[n]!.rt.start();
          return n;
        },
        [httpUrl, wsUrl, token, options] as const,
      );
    const view = (n: number) =>
      page.evaluate((k) => {
        const c = (globalThis as never as { clients: Record<string, unknown>[] }).clients[k]!;
        return {
          state: (c.rt as { state: string }).state,
          cursor: (c.rt as { cursor: string | null }).cursor,
          shown: c.shown as string[],
          stored: (
            globalThis as never as { localStorage: { getItem(k: string): string | null } }
          ).localStorage.getItem('chat:u_br_bob'),
        };
      }, n);

    const first = await start(bobToken);
    await expect.poll(async () => (await view(first)).state, { timeout: 10_000 }).toBe('open');
    await expect.poll(async () => (await view(first)).cursor, { timeout: 10_000 }).not.toBeNull();
    for (const content of ['b1', 'b2', 'b3'])
      await alice.api.sendMessage(room.id, { content, temp_id: content });
    await expect
      .poll(async () => (await view(first)).shown, { timeout: 10_000 })
      .toEqual(['b1', 'b2', 'b3']);
    await expect
      .poll(async () => JSON.parse((await view(first)).stored ?? '{}').seen?.length, {
        timeout: 10_000,
      })
      .toBe(3);
    await page.evaluate((k) => {
      (globalThis as never as { clients: { rt: { close(): void } }[] }).clients[k]!.rt.close();
    }, first);

    for (const content of ['b4', 'b5'])
      await alice.api.sendMessage(room.id, { content, temp_id: content });
    const second = await start(bobToken);
    await expect
      .poll(async () => (await view(second)).shown.sort(), { timeout: 10_000 })
      .toEqual(['b4', 'b5']);
    await page.waitForTimeout(1500);
    expect([...(await view(first)).shown, ...(await view(second)).shown].sort()).toEqual([
      'b1',
      'b2',
      'b3',
      'b4',
      'b5',
    ]);
    await page.evaluate((k) => {
      (globalThis as never as { clients: { rt: { close(): void } }[] }).clients[k]!.rt.close();
    }, second);
  });
});
