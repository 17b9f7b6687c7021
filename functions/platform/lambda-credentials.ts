import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Bundled in place of `@aws-sdk/credential-provider-node` (lib/bundling.ts).
 * Lambda hands a function its role's credentials in environment variables, so
 * the default chain's other links (profile files, SSO, IMDS, web identity, and
 * the STS/SSO clients they load) are never reached there and only cost bundle
 * size and cold-start time (~90 KB). Without the variables this fails loudly.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
