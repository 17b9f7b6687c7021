import { App } from 'aws-cdk-lib';
import { buildApp, synthesize, UsageError } from '../lib/app.ts';

/** `cdk synth` / `cdk deploy`. Context values are documented in the README. */
const app = new App();
// A stage other than local with cdk.json's placeholder issuer or an empty audience
// (lib/deploy-context.ts), or without a region, stops here before anything is built.
try {
  synthesize(buildApp(app).app);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  // One line, no stack trace: this is a usage error, not a crash.
  console.error(error.message);
  process.exit(1);
}
