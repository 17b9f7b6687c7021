import { buildApp } from '../lib/app.ts';

/** `cdk synth` / `cdk deploy`. Context values are documented in the README. */
buildApp();
