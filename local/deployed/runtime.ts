import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DeployedFunction } from './assembly.ts';

/**
 * Runs the synthesized bundles as Lambda runs them: each function in its own
 * worker thread (its own module graph and process.env), started on first use
 * (its cold start), with exactly its template environment plus what the Lambda
 * runtime itself provides. Each bundle is copied to a folder with no
 * node_modules anywhere above it, so a dependency left out of a bundle fails
 * here as it would in /var/task.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { randomUUID } = require('node:crypto');
const loaded = import(workerData.url).then((mod) => {
  const fn = mod[workerData.exportName];
  if (typeof fn !== 'function') throw new Error(workerData.url + ' exports no ' + workerData.exportName);
  return fn;
});
// The init phase: reported once, and not counted against any invocation's timeout.
loaded.then(
  () => parentPort.postMessage({ ready: true }),
  (error) => parentPort.postMessage({ ready: false, error: { name: error?.name, message: error?.message ?? String(error), stack: error?.stack } }),
);
parentPort.on('message', async ({ id, event }) => {
  await loaded.catch(() => {});
  const started = Date.now();
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: workerData.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: workerData.functionArn,
    memoryLimitInMB: String(workerData.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/' + workerData.functionName,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, workerData.timeoutMs - (Date.now() - started)),
    done() {}, fail() {}, succeed() {},
  };
  try {
    const handler = await loaded;
    const result = await handler(event, context);
    parentPort.postMessage({ id, ok: true, result });
  } catch (error) {
    parentPort.postMessage({ id, ok: false, error: { name: error?.name, message: error?.message ?? String(error), stack: error?.stack } });
  }
});
`;

export class FunctionError extends Error {
  constructor(fn: string, error: { name?: string; message: string; stack?: string }) {
    super(`${fn}: ${error.name ?? 'Error'}: ${error.message}`);
    this.name = 'FunctionError';
    if (error.stack) this.stack = `${this.message}\n${error.stack}`;
  }
}

interface Running {
  worker: Worker;
  pending: Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
  /** Settles when the bundle has been imported (Lambda's init phase). */
  ready: Promise<void>;
}

type FromWorker =
  | { ready: true }
  | { ready: false; error: { name?: string; message: string; stack?: string } }
  | { id: string; ok: boolean; result?: unknown; error?: { name?: string; message: string } };

export function startWorkers(
  functions: readonly DeployedFunction[],
  envOf: (fn: DeployedFunction) => Record<string, string>,
  account: string,
  region: string,
) {
  const root = mkdtempSync(join(tmpdir(), 'chat-deployed-'));
  const byHandler = new Map(functions.map((f) => [f.handler, f]));
  const running = new Map<string, Running>();
  const coldStarts = new Map<string, number>();

  function start(fn: DeployedFunction): Running {
    const dir = join(root, fn.logicalId);
    cpSync(fn.assetDir, dir, { recursive: true });
    const worker = new Worker(WORKER, {
      eval: true,
      env: envOf(fn),
      workerData: {
        url: pathToFileURL(join(dir, fn.entryFile)).href,
        exportName: fn.entryExport,
        functionName: fn.logicalId,
        functionArn: `arn:aws:lambda:${region}:${account}:function:${fn.logicalId}`,
        memoryMb: fn.memoryMb,
        timeoutMs: fn.timeoutSeconds * 1000,
      },
    });
    let initDone: (error?: unknown) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      initDone = (error) => (error ? reject(error) : resolve());
    });
    ready.catch(() => undefined);
    const state: Running = { worker, pending: new Map(), ready };
    const fail = (error: unknown) => {
      // A crashed runtime loses its invocations, and the next one is a cold start.
      if (running.get(fn.handler) === state) running.delete(fn.handler);
      for (const p of state.pending.values()) p.reject(error);
      state.pending.clear();
    };
    worker.on('message', (m: FromWorker) => {
      if ('ready' in m) {
        initDone(m.ready ? undefined : new FunctionError(`${fn.logicalId} (init)`, m.error));
        return;
      }
      const p = state.pending.get(m.id);
      if (!p) return;
      state.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new FunctionError(fn.logicalId, m.error ?? { message: 'failed' }));
    });
    worker.on('error', (error) => {
      // An uncaught exception or unhandled rejection ends the runtime, as on Lambda.
      console.error(`[deployed] ${fn.logicalId} (${fn.handler}) crashed:`, error);
      initDone(error);
      fail(error);
    });
    worker.on('exit', (code) => fail(new Error(`${fn.logicalId} exited (${code})`)));
    coldStarts.set(fn.handler, (coldStarts.get(fn.handler) ?? 0) + 1);
    return state;
  }

  function invoke(handler: string, event: unknown): Promise<unknown> {
    const fn = byHandler.get(handler);
    if (!fn) return Promise.reject(new Error(`No function for ${handler} in the assembly`));
    let state = running.get(handler);
    if (!state) {
      state = start(fn);
      running.set(handler, state);
    }
    const id = randomUUID();
    const current = state;
    return new Promise((resolve, reject) => {
      current.pending.set(id, { resolve, reject });
      current.worker.postMessage({ id, event });
    });
  }

  return {
    invoke,
    /** Cold-starts every function now, as the source runtime's warm() imports every module. */
    async warm(handlers: readonly string[]) {
      for (const h of handlers) {
        const fn = byHandler.get(h);
        if (!fn) throw new Error(`The assembly has no function for ${h}: synthesize again`);
        if (!running.has(h)) running.set(h, start(fn));
      }
      // A bundle that cannot load (a dependency left out, a failing init) fails the start.
      await Promise.all(handlers.map((h) => running.get(h)?.ready));
    },
    coldStarts,
    async stop() {
      await Promise.allSettled([...running.values()].map((r) => r.worker.terminate()));
      running.clear();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
