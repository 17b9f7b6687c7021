import { resolve } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
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
  memorySize?: number;
  retainLogs: boolean;
  /** Packages its declaration says it never loads (bundling.ts, leftOutOf). */
  leftOut?: string[];
}

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
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
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
