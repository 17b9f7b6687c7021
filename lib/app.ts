import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { rateLimitsFromContext } from '#platform/rate-limit-rules.ts';
import { ChatStack } from './chat-stack.ts';
import { acknowledgeReviewedFindings } from './nag-suppressions.ts';

/** Builds the app from context; bin/app.ts and the infra tests share it. */
export function buildApp(app = new App()) {
  const context = (key: string, fallback = '') => String(app.node.tryGetContext(key) ?? fallback);
  const stage = context('stage', 'dev');
  const jwtIssuer = context('jwtIssuer');
  if (!jwtIssuer) throw new Error('Set the jwtIssuer context value (cdk.json or -c jwtIssuer=...)');
  const stack = new ChatStack(app, `Chat-${stage}`, {
    stage,
    jwtIssuer,
    jwksUri: context('jwksUri') || `${jwtIssuer.replace(/\/$/, '')}/.well-known/jwks.json`,
    jwtAudience: context('jwtAudience'),
    pushPlatformApplicationArn: context('pushPlatformApplicationArn'),
    presenceGraceSeconds: Number(context('presenceGraceSeconds', '30')),
    // e.g. -c 'rateLimits={"send":"20/s burst 80"}'; checked here, so a typo fails the synth.
    rateLimits: rateLimitsFromContext(app.node.tryGetContext('rateLimits')),
    alarmEmail: context('alarmEmail') || undefined,
    // A context value from the command line is a string: `-c apiGatewayCloudWatchRole=false`.
    apiGatewayCloudWatchRole: context('apiGatewayCloudWatchRole', 'true') !== 'false',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  acknowledgeReviewedFindings(stack, stack.nagScope);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
