import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';

/**
 * Runs the unchanged handler modules in this process, as Lambda would: each
 * module is imported once (its cold start) and invoked with a Lambda context.
 */
type Handler = (event: unknown, context: Context) => Promise<unknown>;
const modules = new Map<string, Promise<Handler>>();

function load(handlerPath: string): Promise<Handler> {
  let loaded = modules.get(handlerPath);
  if (!loaded) {
    const url = pathToFileURL(
      resolve(import.meta.dirname, '..', 'functions', `${handlerPath}.ts`),
    ).href;
    loaded = import(url).then((mod: { handler?: Handler }) => {
      if (typeof mod.handler !== 'function') throw new Error(`${handlerPath} exports no handler`);
      return mod.handler;
    });
    modules.set(handlerPath, loaded);
  }
  return loaded;
}

export function lambdaContext(handlerPath: string, timeoutMs = 30_000): Context {
  const started = Date.now();
  const functionName = `chat-local-${handlerPath.replaceAll('/', '-')}`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Invocations per handler: lets tests see that the gateway refused a request before any function ran. */
export const invocationCounts = new Map<string, number>();

/**
 * What one invocation waited on: each AWS call it made, as start and end times
 * (performance.now()). The cost bench fills it (bench/meter.ts) to tell a
 * handler's own compute from its waits on the local engines, which are slower
 * than AWS's (bench/lambda-time.ts).
 */
export interface InvocationTrace {
  calls: { service: string; start: number; end: number }[];
}
/** The trace of the invocation an async call belongs to (undefined outside any). */
export const currentInvocation = new AsyncLocalStorage<InvocationTrace>();

/** Benchmarks listen here for every invocation, its duration and its trace (bench/meter.ts). */
export const invocationObservers = new Set<
  (handlerPath: string, ms: number, trace: InvocationTrace) => void
>();

/** Another runtime for every invocation: test:deployed runs the synthesized bundles (local/deployed/). */
export interface Runtime {
  invoke(handlerPath: string, event: unknown): Promise<unknown>;
  warm(handlerPaths: readonly string[]): Promise<void>;
}
let runtime: Runtime | undefined;
export function useRuntime(next: Runtime | undefined): void {
  runtime = next;
}

export async function invoke<T = unknown>(handlerPath: string, event: unknown): Promise<T> {
  invocationCounts.set(handlerPath, (invocationCounts.get(handlerPath) ?? 0) + 1);
  const handler = runtime
    ? (runtime.invoke.bind(runtime, handlerPath) as (event: unknown) => Promise<unknown>)
    : await load(handlerPath);
  const trace: InvocationTrace = { calls: [] };
  const started = performance.now();
  try {
    return (await currentInvocation.run(trace, () =>
      handler(event, lambdaContext(handlerPath)),
    )) as T;
  } finally {
    const ms = performance.now() - started;
    for (const observe of invocationObservers) observe(handlerPath, ms, trace);
  }
}

/**
 * On AWS every invocation has a container of its own: one user's burst never
 * waits in front of another user's request, and each is refused (or served) in
 * its own time. This process is one machine: if a flood of one socket's frames
 * were all in flight at once, everyone's requests would queue behind them (the
 * noisy-neighbour bench measured 138× the quiet p95). So each caller has a lane
 * with at most LANE_CONCURRENCY invocations in flight; the rest wait in that
 * caller's lane, in arrival order, and nobody else waits behind them. Two, not
 * one: a user's two devices (or two parallel requests) still race each other
 * here as they do on AWS, which the concurrency tests rely on; more in flight
 * let one caller take more of this machine's two cores (the bench's honest p95
 * under a 300 frames/s flood: 6.4× quiet at 2, 9.8× at 4).
 */
export const LANE_CONCURRENCY = 2;
interface Lane {
  running: number;
  waiting: (() => void)[];
}
const lanes = new Map<string, Lane>();

/** `invoke`, in the lane of `caller` (a user id, or the connection for one without). */
export async function invokeInLane<T = unknown>(
  caller: string,
  handlerPath: string,
  event: unknown,
): Promise<T> {
  let lane = lanes.get(caller);
  if (!lane) {
    lane = { running: 0, waiting: [] };
    lanes.set(caller, lane);
  }
  const mine = lane;
  if (mine.running < LANE_CONCURRENCY) mine.running++;
  // A finishing invocation hands its slot straight to the next in line.
  else await new Promise<void>((start) => mine.waiting.push(start));
  try {
    return await invoke<T>(handlerPath, event);
  } finally {
    const next = mine.waiting.shift();
    if (next) next();
    else if (--mine.running === 0 && lanes.get(caller) === mine) lanes.delete(caller);
  }
}

/** Invocations in flight and waiting in a caller's lane (tests). */
export function laneOf(caller: string): { running: number; waiting: number } {
  const lane = lanes.get(caller);
  return { running: lane?.running ?? 0, waiting: lane?.waiting.length ?? 0 };
}

/** Imports every handler up front, so the first request does not pay the cold start. */
export async function warm(handlerPaths: readonly string[]): Promise<void> {
  if (runtime) return runtime.warm(handlerPaths);
  await Promise.all(handlerPaths.map(load));
}
