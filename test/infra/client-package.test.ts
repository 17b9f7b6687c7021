import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The client as a registry would ship it (issue 25 item 1): `npm pack` in
 * client/ builds it, and an app outside this repository installs the tarball
 * with `ws` and type-checks against it with TypeScript 5 and 7 under
 * `tsc --init`'s strict defaults (exactOptionalPropertyTypes included), then
 * runs it on Node 22 and, when the machine has one, Node 20.
 *
 * Nothing is fetched: the compilers are the repository's devDependencies
 * (TypeScript 7 in test/tools/typescript7, so `tsc` stays 5), the tarball
 * installs offline (it has no dependencies), and `ws`, `@types/ws` and
 * `@types/node` are the repository's own copies, linked into the app.
 */
const root = resolve(import.meta.dirname, '../..');
const compilers = {
  'TypeScript 5': resolve(root, 'node_modules/typescript/bin/tsc'),
  'TypeScript 7': resolve(root, 'test/tools/typescript7/node_modules/typescript/bin/tsc'),
};
/** npm and node of the Node running the tests. */
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
  npm_config_update_notifier: 'false',
};

let dir: string;
let app: string;
let tarball: string;

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** The app: every part of the client a phone or Node app touches, with `ws`'s WebSocket as it is. */
const appSource = `import {
  type ConnectionState,
  createChatClient,
  type Message,
  RealtimeConnection,
  type RealtimeError,
  type RealtimeFailure,
  type StorageLike,
} from '@chat-backend/client';
import WebSocket from 'ws';

const saved = new Map<string, string>();
const storage: StorageLike = {
  getItem: async (key) => saved.get(key) ?? null,
  setItem: async (key, value) => {
    saved.set(key, value);
  },
};

const { api, realtime } = createChatClient({
  httpUrl: 'http://127.0.0.1:3000',
  wsUrl: 'ws://127.0.0.1:3001',
  token: async () => 'token',
  realtime: { webSocket: WebSocket, storage, storageKey: 'chat:u_1' },
});
// A factory works too, and the WebSocket of a browser or Node 22.
new RealtimeConnection({
  url: 'ws://127.0.0.1:3001',
  token: () => 'token',
  webSocket: (url, protocols) => new WebSocket(url, protocols),
});
const native = (globalThis as { WebSocket?: typeof globalThis.WebSocket }).WebSocket;
if (native) new RealtimeConnection({ url: 'ws://x', token: () => 't', webSocket: native });

realtime.on('new-chat-message', ({ message }) => {
  const shown: Message = message;
  console.log(shown.id, shown.content, shown.attachments.length);
});
realtime.on('unauthorized', (error: RealtimeError) => console.log('refresh the token', error.code));
realtime.on('failure', (failure: RealtimeFailure) => console.log(failure.code, failure.message));
realtime.on('state', (state: ConnectionState) => {
  if (state === 'unauthorized') realtime.start();
});
realtime.start();

export async function use(roomId: string) {
  const confirmed = await realtime.sendMessage({ room_id: roomId, content: 'hi' });
  const page = await api.listRooms({ limit: 20 });
  const firstRoom: string | undefined = page.rooms[0]?.id;
  // @ts-expect-error: a field the contract does not have (unused, it would fail: the types check)
  await api.createRoom({ type: 'group', name: 'x', nope: 1 });
  await realtime.flush();
  return [confirmed.message_id, firstRoom, realtime.cursor] as const;
}
`;

/**
 * Run on each Node: the built dist imports, a missing WebSocket throws at
 * construction, a refused upgrade (401) gives up as \`unauthorized\`, and with
 * ws's WebSocket a connection opens and an event arrives.
 */
const runtimeSource = `import { createServer } from 'node:http';
import { RealtimeConnection } from '@chat-backend/client';
import WebSocket, { WebSocketServer } from 'ws';

const lines = [\`node \${process.version}\`];
if (typeof globalThis.WebSocket === 'undefined') {
  try {
    new RealtimeConnection({ url: 'ws://127.0.0.1:9', token: () => 't' });
    throw new Error('no throw without a WebSocket');
  } catch (error) {
    if (!/No WebSocket/.test(error.message)) throw error;
    lines.push('no global WebSocket: the constructor throws');
  }
}

const refusing = createServer();
refusing.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 401 Unauthorized\\r\\nContent-Length: 0\\r\\n\\r\\n'));
await new Promise((r) => refusing.listen(0, '127.0.0.1', r));
const refused = new RealtimeConnection({
  url: \`ws://127.0.0.1:\${refusing.address().port}\`,
  token: () => 'bad',
  webSocket: WebSocket,
});
const states = [];
refused.on('state', (s) => states.push(s));
const error = await new Promise((resolve) => {
  refused.on('unauthorized', resolve);
  refused.start();
});
lines.push(\`401 on upgrade: \${error.code}, states \${states.join(' > ')}\`);
refused.close();
refusing.close();

const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise((r) => server.on('listening', r));
server.on('connection', (socket) =>
  socket.send(JSON.stringify({ event: 'new-chat-message', data: { message: { id: 'm1', content: 'hello' } } })),
);
const conn = new RealtimeConnection({
  url: \`ws://127.0.0.1:\${server.address().port}\`,
  token: () => 'good',
  webSocket: WebSocket,
  cursor: null,
});
const got = await new Promise((resolve) => {
  conn.on('new-chat-message', ({ message }) => resolve(message.content));
  conn.start();
});
lines.push(\`ws connection: \${conn.state}, got "\${got}"\`);
conn.close();
server.close();
console.log(lines.join('\\n'));
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chat-client-pack-'));
  const packed = run('npm', ['pack', '--pack-destination', dir], resolve(root, 'client'));
  expect(packed.code, packed.out).toBe(0);
  tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);

  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'outside-app',
      private: true,
      type: 'module',
      dependencies: { '@chat-backend/client': `file:${tarball}` },
    }),
  );
  // The tarball, as npm installs it (it has no dependencies, so nothing is fetched)…
  const installed = run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'],
    app,
  );
  expect(installed.code, installed.out).toBe(0);
  // …and ws with its types, the repository's own copies.
  for (const name of ['ws', '@types/ws', '@types/node']) {
    mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
    symlinkSync(resolve(root, 'node_modules', name), join(app, 'node_modules', name), 'dir');
  }
  writeFileSync(join(app, 'app.ts'), appSource);
  writeFileSync(join(app, 'runtime.mjs'), runtimeSource);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('client package (npm pack, installed by an outside app)', () => {
  it('holds only the built JavaScript, its .d.ts, the README and package.json, and names nothing outside itself', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files.sort()).toEqual(
      [
        'package/README.md',
        'package/package.json',
        ...['http', 'index', 'realtime', 'wire'].flatMap((f) => [
          `package/dist/${f}.d.ts`,
          `package/dist/${f}.js`,
        ]),
      ].sort(),
    );
    const installed = join(app, 'node_modules/@chat-backend/client');
    for (const file of files.filter((f) => f.startsWith('package/dist/'))) {
      const text = readFileSync(join(installed, file.slice('package/'.length)), 'utf8');
      expect(text, file).not.toContain('../functions');
      expect(text, file).not.toMatch(/from ['"](?!\.\/)|import\(['"](?!\.\/)|\.ts['"]/);
    }
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies).toBeUndefined();
  });

  for (const [name, tsc] of Object.entries(compilers)) {
    it(`type-checks an app using ws's WebSocket (no cast) with ${name}, tsc --init's strict defaults and exactOptionalPropertyTypes`, () => {
      // What `tsc --init` writes (TypeScript 7), checking the package's .d.ts too (skipLibCheck off).
      const config = {
        compilerOptions: {
          module: 'nodenext',
          target: 'esnext',
          types: [],
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          strict: true,
          verbatimModuleSyntax: true,
          isolatedModules: true,
          noUncheckedSideEffectImports: true,
          moduleDetection: 'force',
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['app.ts'],
      };
      // Also a Node-only app: no DOM library, Node's types instead.
      const nodeOnly = {
        ...config,
        compilerOptions: { ...config.compilerOptions, lib: ['es2023'], types: ['node'] },
      };
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(config));
      writeFileSync(join(app, 'tsconfig.node.json'), JSON.stringify(nodeOnly));
      const v = run(process.execPath, [tsc, '--version'], app);
      expect(v.out).toMatch(name === 'TypeScript 5' ? /^Version 5\./ : /^Version 7\./);
      for (const project of ['tsconfig.json', 'tsconfig.node.json']) {
        const checked = run(process.execPath, [tsc, '-p', project], app);
        console.log(
          `${v.out} -p ${project}: exit ${checked.code}${checked.out ? `\n${checked.out}` : ''}`,
        );
        expect(checked.code, checked.out).toBe(0);
      }
    });
  }

  it('runs on Node 22: imports, gives up on a 401 as unauthorized, and talks over ws', () => {
    const r = run(process.execPath, ['runtime.mjs'], app);
    console.log(r.out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('401 on upgrade: UNAUTHORIZED, states connecting > unauthorized');
    expect(r.out).toContain('ws connection: open, got "hello"');
  });

  const node20 = ['/usr/bin/node', '/usr/local/bin/node']
    .filter((p) => existsSync(p))
    .find((p) => run(p, ['--version'], root).out.startsWith('v20.'));
  it.skipIf(!node20)(
    'runs on Node 20 with ws: without webSocket the constructor throws; with it, it connects',
    () => {
      const r = run(node20!, ['runtime.mjs'], app);
      console.log(r.out);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/^node v20\./);
      expect(r.out).toContain('no global WebSocket: the constructor throws');
      expect(r.out).toContain('401 on upgrade: UNAUTHORIZED, states connecting > unauthorized');
      expect(r.out).toContain('ws connection: open, got "hello"');
    },
  );
});
