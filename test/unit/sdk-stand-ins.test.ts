import { DescribeEndpointsCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS,
  resolveEndpointDiscoveryConfig,
} from '#platform/no-endpoint-discovery.ts';
import { EventStreamSerde } from '#platform/no-event-streams.ts';

/**
 * The SDK parts lib/bundling.ts swaps for stand-ins resolve to "not used" and
 * fail loudly if something does use them (the bundles themselves run under
 * `npm run test:deployed`).
 */
describe('DynamoDB endpoint discovery stand-in', () => {
  it('resolves discovery as off, with no endpoint cache', async () => {
    const config = resolveEndpointDiscoveryConfig(
      {} as { region?: string; endpointDiscoveryEnabled?: boolean },
      { endpointDiscoveryCommandCtor: DescribeEndpointsCommand },
    );
    expect(await config.endpointDiscoveryEnabled()).toBe(false);
    expect(config.isClientEndpointDiscoveryEnabled).toBe(false);
    expect(config).not.toHaveProperty('endpointCache');
  });

  it('refuses to be switched on, in code or in the environment', () => {
    expect(() =>
      resolveEndpointDiscoveryConfig(
        { endpointDiscoveryEnabled: true },
        { endpointDiscoveryCommandCtor: DescribeEndpointsCommand },
      ),
    ).toThrow('not bundled');
    const fromEnv = NODE_ENDPOINT_DISCOVERY_CONFIG_OPTIONS.environmentVariableSelector;
    expect(() => fromEnv({ AWS_ENABLE_ENDPOINT_DISCOVERY: 'true' })).toThrow('not bundled');
    expect(fromEnv({ AWS_ENDPOINT_DISCOVERY_ENABLED: 'false' })).toBeUndefined();
    expect(fromEnv({})).toBeUndefined();
  });
});

it('event-stream serde fails loudly if an operation ever needs it', () => {
  expect(() => EventStreamSerde()).toThrow('not bundled');
});
