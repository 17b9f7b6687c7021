/**
 * Bundled in place of `@aws-sdk/middleware-endpoint-discovery` (lib/bundling.ts).
 * DynamoDB's client resolves endpoint-discovery settings and builds an endpoint
 * cache (the `mnemonist` LRU, ~8 KB of every bundle), but no DynamoDB operation
 * this SDK version sends applies the discovery middleware, and the feature is
 * off unless a caller turns it on, which none here does. So discovery is
 * resolved as off, with no cache, and an attempt to enable it fails loudly.
 */
import { ConfigError } from './errors.ts';

interface DiscoveryInput {
  endpointDiscoveryEnabled?: boolean;
}

export const NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS = {
  environmentVariableSelector: (env: Record<string, string | undefined>) => {
    const value = env.AWS_ENABLE_ENDPOINT_DISCOVERY ?? env.AWS_ENDPOINT_DISCOVERY_ENABLED;
    if (value !== undefined && value !== 'false' && value !== '0') throw notBundled();
    return undefined;
  },
  configFileSelector: () => undefined,
  default: undefined,
};

export function resolveEndpointDiscoveryConfig<T extends DiscoveryInput>(
  input: T,
  { endpointDiscoveryCommandCtor }: { endpointDiscoveryCommandCtor: unknown },
) {
  if (input.endpointDiscoveryEnabled) throw notBundled();
  return Object.assign(input, {
    endpointDiscoveryCommandCtor,
    endpointDiscoveryEnabled: () => Promise.resolve(false),
    isClientEndpointDiscoveryEnabled: false,
  });
}

const notBundled = () =>
  new ConfigError('DynamoDB endpoint discovery is not bundled (lib/bundling.ts)');
