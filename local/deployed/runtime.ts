import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DeployedFunction } from './assembly.ts';

/**
 * Runs the synthesized bundles as Lambda runs them: each container is a worker
 * thread (its own module graph and process.env) with exactly its function's
 * template environment plus what the Lambda runtime itself provides; a busy
 * function starts more containers (cold starts). Each bundle is copied to a folder with no
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

/**
 * Concurrency. Lambda gives each concurrent invocation a container of its own;
 * on one machine that many cold starts would cost more than they show, so a
 * container here takes up to PER_CONTAINER invocations at once, a busy
 * function gets more containers (cold starts) up to MAX_CONTAINERS, and
 * invocations beyond that wait their turn. The wait does not count against a
 * function's timeout; only the time in a container does.
 */
const PER_CONTAINER = 16;
const MAX_CONTAINERS = 4;
/**
 * Timeouts. Each function's template timeout is enforced as Lambda enforces it:
 * the invocation's context counts down from it, an invocation still running at
 * its timeout is failed ("Task timed out", as Lambda answers) and reported, and
 * an AWS call a function makes once its invocations are past their timeout, or
 * when none of them is running at all (after it returned or timed out, which on
 * Lambda would be frozen or killed), is reported (checkCall). Calls made while
 * a container is loading its bundle are the init phase's, not an invocation's.
 */
export interface TimeoutViolation {
  /** Logical id and route-table handler. */
  fn: string;
  handler: string;
  kind: 'invocation' | 'call';
  /** How long the invocation had run (`invocation`), or how long its youngest had (`call`). */
  ms: number;
  limitMs: number;
  detail: string;
}

interface Container {
  worker: Worker;
  /** The invocations it is running. */
  running: Map<
    string,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void; settle: () => void }
  >;
  /** Settles when the bundle has been imported (Lambda's init phase). */
  ready: Promise<void>;
}

interface Waiting {
  event: unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
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
  const pools = new Map<string, Container[]>();
  const queues = new Map<string, Waiting[]>();
  const coldStarts = new Map<string, number>();
  const byLogicalId = new Map(functions.map((f) => [f.logicalId, f]));
  /** Start times of the invocations running now, by logical id. */
  const inFlight = new Map<string, Map<string, number>>();
  /** Containers still loading their bundle (init phase), by logical id. */
  const initializing = new Map<string, number>();
  const violations: TimeoutViolation[] = [];
  /** The longest invocation of each handler, in ms. */
  const longest = new Map<string, number>();
  let stopping = false;
  const limitOf = (fn: DeployedFunction) => fn.timeoutSeconds * 1000;

  function start(fn: DeployedFunction): Container {
    const n = (coldStarts.get(fn.handler) ?? 0) + 1;
    coldStarts.set(fn.handler, n);
    const dir = join(root, `${fn.logicalId}-${n}`);
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
        // The template's timeout, as the deployed function's context counts it.
        timeoutMs: limitOf(fn),
      },
    });
    initializing.set(fn.logicalId, (initializing.get(fn.logicalId) ?? 0) + 1);
    let initDone: (error?: unknown) => void = () => undefined;
    let initialized = false;
    const ready = new Promise<void>((resolve, reject) => {
      initDone = (error) => {
        if (!initialized) {
          initialized = true;
          initializing.set(fn.logicalId, (initializing.get(fn.logicalId) ?? 1) - 1);
        }
        if (error) reject(error);
        else resolve();
      };
    });
    ready.catch(() => undefined);
    const container: Container = { worker, ready, running: new Map() };
    const pool = pools.get(fn.handler) ?? [];
    pools.set(fn.handler, [...pool, container]);
    const fail = (error: unknown) => {
      // A crashed runtime loses its invocation, and the next one is a cold start.
      pools.set(
        fn.handler,
        (pools.get(fn.handler) ?? []).filter((c) => c !== container),
      );
      initDone(error);
      for (const r of container.running.values()) {
        r.settle();
        r.reject(error);
      }
      container.running.clear();
      pump(fn.handler);
    };
    worker.on('message', (m: FromWorker) => {
      if ('ready' in m) {
        initDone(m.ready ? undefined : new FunctionError(`${fn.logicalId} (init)`, m.error));
        return;
      }
      const current = container.running.get(m.id);
      if (!current) return;
      container.running.delete(m.id);
      current.settle();
      if (m.ok) current.resolve(m.result);
      else current.reject(new FunctionError(fn.logicalId, m.error ?? { message: 'failed' }));
      pump(fn.handler);
    });
    worker.on('error', (error) => {
      // An uncaught exception or unhandled rejection ends the runtime, as on Lambda.
      console.error(`[deployed] ${fn.logicalId} (${fn.handler}) crashed:`, error);
      initDone(error);
      fail(error);
    });
    worker.on('exit', (code) => fail(new Error(`${fn.logicalId} exited (${code})`)));
    return container;
  }

  /** Hands waiting invocations to idle containers, starting containers up to the cap. */
  function pump(handler: string) {
    if (stopping) return;
    const fn = byHandler.get(handler)!;
    const waiting = queues.get(handler) ?? [];
    while (waiting.length > 0) {
      const pool = pools.get(handler) ?? [];
      const least = pool.reduce<Container | undefined>(
        (a, c) => (!a || c.running.size < a.running.size ? c : a),
        undefined,
      );
      const free =
        least && least.running.size < PER_CONTAINER
          ? least
          : pool.length < MAX_CONTAINERS
            ? start(fn)
            : undefined;
      if (!free) return;
      const next = waiting.shift()!;
      const id = randomUUID();
      const started = Date.now();
      const running = inFlight.get(fn.logicalId) ?? new Map<string, number>();
      inFlight.set(fn.logicalId, running);
      running.set(id, started);
      const limitMs = limitOf(fn);
      // Lambda ends an invocation at its timeout: the caller gets the failure; what the
      // code still does in this container is late (checkCall reports its AWS calls).
      const timer = setTimeout(() => {
        if (!free.running.has(id)) return;
        free.running.delete(id);
        running.delete(id);
        violations.push({
          fn: fn.logicalId,
          handler: fn.handler,
          kind: 'invocation',
          ms: Date.now() - started,
          limitMs,
          detail: `timed out: still running at its ${fn.timeoutSeconds} s timeout`,
        });
        next.reject(
          new FunctionError(fn.logicalId, {
            name: 'Sandbox.Timedout',
            message: `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
          }),
        );
        pump(handler);
      }, limitMs);
      timer.unref();
      const settle = () => {
        clearTimeout(timer);
        running.delete(id);
        const ms = Date.now() - started;
        longest.set(fn.handler, Math.max(longest.get(fn.handler) ?? 0, ms));
      };
      free.running.set(id, { resolve: next.resolve, reject: next.reject, settle });
      free.worker.postMessage({ id, event: next.event });
    }
  }

  function invoke(handler: string, event: unknown): Promise<unknown> {
    if (!byHandler.has(handler))
      return Promise.reject(new Error(`No function for ${handler} in the assembly`));
    return new Promise((resolve, reject) => {
      queues.set(handler, [...(queues.get(handler) ?? []), { event, resolve, reject }]);
      pump(handler);
    });
  }

  return {
    invoke,
    /** Cold-starts one container per function now, as the source runtime's warm() imports every module. */
    async warm(handlers: readonly string[]) {
      for (const h of handlers) {
        const fn = byHandler.get(h);
        if (!fn) throw new Error(`The assembly has no function for ${h}: synthesize again`);
        if (!pools.get(h)?.length) start(fn);
      }
      // A bundle that cannot load (a dependency left out, a failing init) fails the start.
      await Promise.all(handlers.flatMap((h) => (pools.get(h) ?? []).map((c) => c.ready)));
    },
    coldStarts,
    violations,
    longest,
    /**
     * Whether an AWS call the function `logicalId` makes now is late: every one of
     * its running invocations is past its timeout, or none is running and no
     * container of it is loading (the call outlived its invocation). Conservative:
     * one fresh invocation anywhere covers every call of that function.
     */
    checkCall(logicalId: string, detail: string): void {
      const fn = byLogicalId.get(logicalId);
      if (!fn || stopping) return;
      const now = Date.now();
      const limitMs = limitOf(fn);
      const running = [...(inFlight.get(logicalId)?.values() ?? [])];
      if (running.length > 0) {
        const youngest = now - Math.max(...running);
        if (youngest > limitMs)
          violations.push({
            fn: logicalId,
            handler: fn.handler,
            kind: 'call',
            ms: youngest,
            limitMs,
            detail: `${detail}: made ${youngest} ms into an invocation, past its ${fn.timeoutSeconds} s timeout`,
          });
        return;
      }
      if ((initializing.get(logicalId) ?? 0) > 0) return;
      violations.push({
        fn: logicalId,
        handler: fn.handler,
        kind: 'call',
        ms: 0,
        limitMs,
        detail: `${detail}: made while no invocation of it was running (after it returned or timed out)`,
      });
    },
    async stop() {
      stopping = true;
      for (const waiting of queues.values())
        for (const w of waiting.splice(0)) w.reject(new Error('The local stack stopped'));
      const all = [...pools.values()].flat();
      pools.clear();
      await Promise.allSettled(all.map((c) => c.worker.terminate()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
