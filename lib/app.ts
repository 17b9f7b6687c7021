import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { limitsFromContext } from '#platform/limits.ts';
import { rateLimitsFromContext } from '#platform/rate-limit-rules.ts';
import { ChatStack } from './chat-stack.ts';
import {
  cognitoContextProblem,
  corsOriginsFromContext,
  deployContextProblem,
  PLACEHOLDER_STAGE,
} from './deploy-context.ts';
import { acknowledgeReviewedFindings } from './nag-suppressions.ts';
import { pushApplicationsFromContext } from './push-context.ts';

/** A mistake in how synth was called: bin/app.ts prints it on one line, with no stack trace. */
export class UsageError extends Error {}

/**
 * The region to deploy to, never a silent us-east-1: `-c region=...`, else
 * AWS_REGION or AWS_DEFAULT_REGION, else the region of the AWS profile the CDK
 * CLI passes in CDK_DEFAULT_REGION. The CLI fills CDK_DEFAULT_REGION with
 * us-east-1 when it finds no region at all, so that value is taken only when
 * named explicitly.
 */
export function regionFor(app: App, stage: string): string | undefined {
  const given =
    app.node.tryGetContext('region') || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (given) return String(given);
  const fromCli = process.env.CDK_DEFAULT_REGION;
  if (fromCli && fromCli !== 'us-east-1') return fromCli;
  // The local stage only synthesizes (lib/deploy-context.ts): it may leave the region to deploy time.
  if (stage === PLACEHOLDER_STAGE) return undefined;
  throw new UsageError(
    `Stage "${stage}" needs a region: pass -c region=<e.g. eu-west-1> or set AWS_REGION (us-east-1 too must be named: the CDK CLI falls back to it when it finds none).`,
  );
}

/** Synthesizes, then says in one line that cdk-nag passed (a finding fails the synth before). */
export function synthesize(app: App) {
  const assembly = app.synth();
  const stacks = assembly.stacks.map((s) => s.stackName).join(', ');
  console.error(
    `cdk-nag: AwsSolutions checks passed for ${stacks} (reviewed acknowledgements in lib/nag-suppressions.ts)`,
  );
  return assembly;
}

/** Builds the app from context; bin/app.ts and the infra tests share it. */
export function buildApp(app = new App()) {
  const context = (key: string, fallback = '') => String(app.node.tryGetContext(key) ?? fallback);
  const stage = context('stage', 'dev');
  const auth = context('auth', 'issuer');
  if (auth !== 'issuer' && auth !== 'cognito')
    throw new UsageError(
      `-c auth must be "issuer" (your identity provider) or "cognito" (a user pool in the stack) (got "${auth}")`,
    );
  const jwtIssuer = context('jwtIssuer');
  if (auth === 'issuer' && !jwtIssuer)
    throw new UsageError(
      'Set the jwtIssuer context value (cdk.json or -c jwtIssuer=...), or -c auth=cognito',
    );
  // Before anything is built: only the local stage keeps cdk.json's placeholders.
  const problem =
    auth === 'cognito'
      ? cognitoContextProblem({ jwtIssuer, jwtAudience: context('jwtAudience') })
      : deployContextProblem({ stage, jwtIssuer, jwtAudience: context('jwtAudience') });
  if (problem) throw new UsageError(problem);
  const corsOrigins = corsOriginsFromContext(context('corsOrigins', '*'));
  if (typeof corsOrigins === 'string') throw new UsageError(corsOrigins);
  const cognitoDomain = context('cognitoDomain') || undefined;
  if (cognitoDomain && auth !== 'cognito')
    throw new UsageError(
      "-c cognitoDomain needs -c auth=cognito (the hosted sign-in belongs to the stack's user pool)",
    );
  // The override of OpenID discovery: a key URL the functions fetch, so https (aws-jwt-verify's fetcher).
  const jwksUri = context('jwksUri') || undefined;
  if (jwksUri && stage !== PLACEHOLDER_STAGE && !/^https:\/\/[^/]/.test(jwksUri))
    throw new UsageError(`-c jwksUri must be an https URL (got "${jwksUri}")`);
  const tracing = context('tracing', 'off');
  if (tracing !== 'active' && tracing !== 'off')
    throw new UsageError(`-c tracing must be "active" or "off" (got "${tracing}")`);
  const capacity = context('capacity', 'on-demand');
  if (capacity !== 'on-demand' && capacity !== 'provisioned')
    throw new UsageError(`-c capacity must be "on-demand" or "provisioned" (got "${capacity}")`);
  // -c pushApnsArn / pushApnsSandboxArn / pushFcmArn (or the deprecated pushPlatformApplicationArn).
  const push = pushApplicationsFromContext((key) => context(key));
  if (push.problem !== undefined) throw new UsageError(push.problem);
  const region = regionFor(app, stage);
  const stack = new ChatStack(app, `Chat-${stage}`, {
    stage,
    cognito:
      auth === 'cognito'
        ? {
            hostedDomainPrefix: cognitoDomain,
            callbackUrls: context('cognitoCallbackUrls').split(',').filter(Boolean),
          }
        : undefined,
    corsOrigins,
    jwtIssuer,
    // Unset, the authorizer reads jwks_uri from the issuer's openid-configuration.
    jwksUri,
    jwtAudience: context('jwtAudience'),
    pushApplications: push.json,
    presenceGraceSeconds: Number(context('presenceGraceSeconds', '30')),
    heartbeatTimeoutSeconds: Number(context('heartbeatTimeoutSeconds', '60')),
    // e.g. -c 'rateLimits={"send":"20/s burst 80"}'; checked here, so a typo fails the synth.
    rateLimits: rateLimitsFromContext(app.node.tryGetContext('rateLimits')),
    // e.g. -c 'limits={"groupMembers":500}' (platform/limits.ts STAGE_LIMITS); checked here too.
    limits: limitsFromContext(app.node.tryGetContext('limits')),
    alarmEmail: context('alarmEmail') || undefined,
    reportsEmail: context('reportsEmail') || undefined,
    // Groups come from the token's `groups` or `cognito:groups` claim.
    moderatorGroup: context('moderatorGroup') || undefined,
    // A context value from the command line is a string: `-c apiGatewayCloudWatchRole=false`.
    apiGatewayCloudWatchRole: context('apiGatewayCloudWatchRole', 'true') !== 'false',
    // X-Ray traces cost per invocation (lib/chat-function.ts OBSERVABILITY): on for debugging.
    tracing: tracing === 'active',
    capacity,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
  });
  acknowledgeReviewedFindings(stack, stack.nagScope);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
