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

/** Benchmarks listen here for every invocation and its duration (bench/meter.ts). */
export const invocationObservers = new Set<(handlerPath: string, ms: number) => void>();

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
  const started = performance.now();
  try {
    return (await handler(event, lambdaContext(handlerPath))) as T;
  } finally {
    const ms = performance.now() - started;
    for (const observe of invocationObservers) observe(handlerPath, ms);
  }
}

/** Imports every handler up front, so the first request does not pay the cold start. */
export async function warm(handlerPaths: readonly string[]): Promise<void> {
  if (runtime) return runtime.warm(handlerPaths);
  await Promise.all(handlerPaths.map(load));
}
