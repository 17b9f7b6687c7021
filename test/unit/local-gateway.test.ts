import { describe, expect, it } from 'vitest';
import { identitySourcesPresent } from '#local/ws-gateway.ts';

describe("the local gateway's $connect identity-source check (as API Gateway's)", () => {
  it('calls the authorizer only when every source is present and non-empty', () => {
    const query = ['route.request.querystring.token'];
    expect(identitySourcesPresent(query, {}, { token: 'abc' })).toBe(true);
    expect(identitySourcesPresent(query, {}, { token: '' })).toBe(false);
    expect(
      identitySourcesPresent(query, { 'sec-websocket-protocol': 'chat, abc' }, undefined),
    ).toBe(false);
    const both = [...query, 'route.request.header.Sec-WebSocket-Protocol'];
    expect(identitySourcesPresent(both, { 'sec-websocket-protocol': 'chat' }, { token: 'a' })).toBe(
      true,
    );
    expect(identitySourcesPresent(both, {}, { token: 'a' })).toBe(false);
    expect(identitySourcesPresent([], {}, undefined)).toBe(true);
  });
});
