import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '#local/ports.ts';

/**
 * The local stack started as `npm start` starts it, in its own process, so the
 * benchmark's clients do not share an event loop with the handlers they time.
 */
export interface StackProcess {
  child: ChildProcess;
  http: string;
  ws: string;
  stop(): Promise<void>;
}

export async function startStackProcess(env: Record<string, string> = {}): Promise<StackProcess> {
  const [httpPort, wsPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [resolve('node_modules/tsx/dist/cli.mjs'), 'local/main.ts'],
    {
      env: {
        ...process.env,
        HTTP_PORT: String(httpPort),
        WS_PORT: String(wsPort),
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error('stack did not start')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        done();
      }
    });
    child.once('exit', (code) => fail(new Error(`stack exited ${code}`)));
  });
  return {
    child,
    http: `http://127.0.0.1:${httpPort}`,
    ws: `ws://127.0.0.1:${wsPort}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return (await res.json()) as T;
}

export const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
