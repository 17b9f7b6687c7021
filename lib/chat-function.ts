import { resolve } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { bundling } from './bundling.ts';

const ROOT = resolve(import.meta.dirname, '..');

export interface ChatFunctionProps {
  /** Module path under functions/, as in the route table. */
  handler: string;
  environment: Record<string, string>;
  timeout?: Duration;
  retainLogs: boolean;
  /** X-Ray active tracing (`-c tracing=active`); OBSERVABILITY says why it is off by default. */
  tracing?: boolean;
  /** Packages its declaration says it never loads (bundling.ts, leftOutOf). */
  leftOut?: string[];
}

/**
 * What every function spends on observability per invocation, as deployed by
 * default; the cost bench prices exactly these (bench/price-lines.ts).
 *
 * - `tracing`: X-Ray active tracing samples 1 request a second and 5% of the rest
 *   per function, a rate Lambda does not let a stack change: about $0.25 per
 *   million invocations, $0.5–0.75 per million messages, for a trace of a few
 *   AWS calls. CloudWatch's own Lambda, API Gateway and DynamoDB metrics (free)
 *   and the send metrics carry the aggregate; `-c tracing=active` turns traces on
 *   for a stage that is being debugged.
 * - `platformLogLines`: Lambda's START and REPORT lines (about 500 bytes an
 *   invocation, ingested at $0.50/GB) are dropped by the JSON log format with
 *   the system log level at WARN; Duration, Errors and Throttles stay as
 *   CloudWatch metrics, and the functions' own warnings and errors are kept.
 */
export const OBSERVABILITY = { tracing: false, platformLogLines: false } as const;

/**
 * Memory per function, in MB, sized by the cost bench (`npm run bench -- costs
 * --verbose` prints its sizing table, bench/lambda-time.ts sizeMemory): the
 * cheapest size whose modeled p95 stays within 10% of DEFAULT_MEMORY_MB's and
 * whose cold import stays under 600 ms. These functions wait on AWS far more
 * than they compute (about 1 ms of compute in a 50 ms send), so half the memory
 * costs half as much for a few ms more; 256 MB missed the p95 bound for each.
 * The stream consumer and the presence check kept 1,024 MB (512 MB was 23% and
 * 50% slower at p95); so did the sweeper, which runs once a minute and whose
 * work grows with the connections. Functions the bench does not run keep
 * DEFAULT_MEMORY_MB.
 */
export const DEFAULT_MEMORY_MB = 1024;
const MEMORY_MB: Readonly<Record<string, number>> = {
  'http/send-message': 512,
  'ws/send-message': 512,
  'queues/fan-out': 512,
  'queues/fill-gaps': 512,
};

export const functionMemoryMb = (handler: string): number =>
  MEMORY_MB[handler] ?? DEFAULT_MEMORY_MB;

/** `http/create-room` → `HttpCreateRoom`: a stable construct id per route. */
export const idFor = (handler: string) =>
  handler
    .split(/[/-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/**
 * One Lambda per endpoint, with the defaults every function shares: Node.js 22
 * on arm64, a bundle built by the local esbuild (no Docker, works offline) as
 * lib/bundling.ts says (minified ESM, the AWS SDK inside), its own log group
 * with a retention, and the environment it declares.
 */
export class ChatFunction extends NodejsFunction {
  constructor(scope: Construct, props: ChatFunctionProps) {
    const id = idFor(props.handler);
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: resolve(ROOT, 'functions', `${props.handler}.ts`),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: functionMemoryMb(props.handler),
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: (props.tracing ?? OBSERVABILITY.tracing) ? Tracing.ACTIVE : Tracing.PASS_THROUGH,
      loggingFormat: LoggingFormat.JSON,
      systemLogLevelV2: OBSERVABILITY.platformLogLines ? SystemLogLevel.INFO : SystemLogLevel.WARN,
      logGroup,
      projectRoot: ROOT,
      depsLockFilePath: resolve(ROOT, 'package-lock.json'),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: 'chat',
        POWERTOOLS_METRICS_NAMESPACE: 'Chat',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: bundling.target,
        minify: bundling.minify,
        sourceMap: true,
        mainFields: [...bundling.mainFields],
        externalModules: [...bundling.external, ...(props.leftOut ?? [])],
        esbuildArgs: Object.fromEntries(
          Object.entries(bundling.alias).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        banner: bundling.banner,
        // Bundle sizes are npm run bench -- bundles' business; synth prints only problems.
        logLevel: LogLevel.WARNING,
      },
    });
  }
}
