import { App } from 'aws-cdk-lib';
import { buildApp, synthesize, UsageError } from '../lib/app.ts';
import { deployContextProblem } from './deploy-context.ts';

/** `cdk synth` / `cdk deploy`. Context values are documented in the README. */
const app = new App();
const context = (key: string) => String(app.node.tryGetContext(key) ?? '');
const problem = deployContextProblem({
  stage: context('stage') || 'dev',
  jwtIssuer: context('jwtIssuer'),
  jwtAudience: context('jwtAudience'),
});
if (problem) {
  // One line, no stack trace: this is a usage error, not a crash.
  console.error(problem);
  process.exit(1);
}
try {
  synthesize(buildApp(app).app);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(error.message);
  process.exit(1);
}
