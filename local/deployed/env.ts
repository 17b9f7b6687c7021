/**
 * Switches the local stack to the synthesized bundles (`npm run test:deployed`):
 * the assembly folder (cdk.out) to run, and where to write the calls recorded.
 * Kept apart from index.ts so the source mode never loads the CDK.
 */
export const DEPLOYED_ASSEMBLY_ENV = 'CHAT_DEPLOYED_ASSEMBLY';
export const DEPLOYED_RECORD_DIR_ENV = 'CHAT_DEPLOYED_RECORD_DIR';
