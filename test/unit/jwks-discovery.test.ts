import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setTestEnv, testIssuer } from './support.ts';

/*
 * Without -c jwksUri the $connect authorizer finds the JWKS as API Gateway's HTTP
 * JWT authorizer does: `jwks_uri` in the issuer's openid-configuration, fetched
 * once per container and kept; a failed discovery refuses that token (401) and is
 * tried again at the next one.
 */
setTestEnv();
// The handler below runs against a real issuer on loopback, with no JWKS_URI: discovery.
delete process.env.JWKS_URI;
const served = {
  discovery: 0,
  jwksFetches: 0,
  discoveryStatus: 200,
  document: {} as Record<string, unknown>,
  keys: { keys: [] as object[] },
};
const server: Server = createServer((req, res) => {
  if (req.url === '/idp/.well-known/openid-configuration') {
    served.discovery++;
    res.writeHead(served.discoveryStatus, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(served.document));
  }
  if (req.url === '/keys/jwks') {
    served.jwksFetches++;
    return res.end(JSON.stringify(served.keys));
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const loopbackIssuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/idp`;
process.env.JWT_ISSUER = loopbackIssuer;
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const { createTokenVerifier, discoverJwksUri } = await import('#platform/auth.ts');
const { handler: authorize } = await import('#functions/ws/authorizer.ts');

type Issuer = Awaited<ReturnType<typeof testIssuer>>;
let issuer: Issuer;
beforeAll(async () => {
  issuer = await testIssuer();
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

const ISSUER = 'https://issuer.test';
/** Not `<issuer>/.well-known/jwks.json`: only discovery finds it. */
const JWKS_URI = 'https://keys.issuer.test/v1/certs';

/** A stand-in for aws-jwt-verify's fetcher: URL → JSON, an Error, or nothing (404). */
function stubFetcher(routes: Record<string, object | Error>) {
  const calls: string[] = [];
  return {
    calls,
    async fetch(uri: string) {
      calls.push(uri);
      const body = routes[uri];
      if (body === undefined || body instanceof Error) throw body ?? new Error(`404 ${uri}`);
      return new TextEncoder().encode(JSON.stringify(body)).buffer as ArrayBuffer;
    },
  };
}
const DISCOVERY = `${ISSUER}/.well-known/openid-configuration`;

describe('OpenID discovery of the JWKS (stubbed fetch)', () => {
  it("verifies with the JWKS the issuer's openid-configuration names, fetched once", async () => {
    const fetcher = stubFetcher({
      [DISCOVERY]: { issuer: ISSUER, jwks_uri: JWKS_URI },
      [JWKS_URI]: issuer.jwks,
    });
    const verifier = createTokenVerifier({ issuer: ISSUER, audience: 'chat-test' }, fetcher);
    const first = await verifier.verify(await issuer.sign({ sub: 'alice' }));
    expect(first.caller.userId).toBe('alice');
    expect((await verifier.verify(await issuer.sign({ sub: 'bob' }))).caller.userId).toBe('bob');
    expect(fetcher.calls).toEqual([DISCOVERY, JWKS_URI]);
  });

  it('refuses a document naming another issuer, or a JWKS that is not https', async () => {
    const cases: Record<string, object> = {
      'another issuer': { issuer: 'https://evil.example.com', jwks_uri: JWKS_URI },
      'issuer with a trailing slash': { issuer: `${ISSUER}/`, jwks_uri: JWKS_URI },
      'no issuer': { jwks_uri: JWKS_URI },
      'http jwks_uri': { issuer: ISSUER, jwks_uri: 'http://keys.issuer.test/v1/certs' },
      'loopback http jwks_uri of a non-local issuer': {
        issuer: ISSUER,
        jwks_uri: 'http://127.0.0.1:9/jwks',
      },
      'no jwks_uri': { issuer: ISSUER },
      'jwks_uri not a URL': { issuer: ISSUER, jwks_uri: 'certs' },
    };
    for (const [what, document] of Object.entries(cases)) {
      const fetcher = stubFetcher({
        [DISCOVERY]: document,
        [JWKS_URI]: issuer.jwks,
        'http://keys.issuer.test/v1/certs': issuer.jwks,
      });
      await expect(discoverJwksUri(ISSUER, fetcher), what).rejects.toThrow();
      const verifier = createTokenVerifier({ issuer: ISSUER, audience: 'chat-test' }, fetcher);
      await expect(verifier.verify(await issuer.sign({ sub: 'alice' })), what).rejects.toThrow(
        /^Unauthorized$/,
      );
      // No key was fetched from a document that failed the checks.
      expect(
        fetcher.calls.every((uri) => uri === DISCOVERY),
        what,
      ).toBe(true);
    }
  });

  it('accepts plain http only where the issuer itself is on loopback (the local stack)', async () => {
    const local = 'http://127.0.0.1:3000/local';
    const jwks = `${local}/.well-known/jwks.json`;
    const fetcher = stubFetcher({
      [`${local}/.well-known/openid-configuration`]: { issuer: local, jwks_uri: jwks },
    });
    await expect(discoverJwksUri(local, fetcher)).resolves.toBe(jwks);
  });

  it('refuses the token when discovery fails, keeps no failure, and tries again next time', async () => {
    const routes: Record<string, object | Error> = {
      [DISCOVERY]: new Error('connect ETIMEDOUT'),
      [JWKS_URI]: issuer.jwks,
    };
    const fetcher = stubFetcher(routes);
    const verifier = createTokenVerifier({ issuer: ISSUER, audience: 'chat-test' }, fetcher);
    const token = await issuer.sign({ sub: 'alice' });
    await expect(verifier.verify(token)).rejects.toThrow(/^Unauthorized$/);
    await expect(verifier.verify(token)).rejects.toThrow(/^Unauthorized$/);
    expect(fetcher.calls).toEqual([DISCOVERY, DISCOVERY]);
    routes[DISCOVERY] = { issuer: ISSUER, jwks_uri: JWKS_URI };
    expect((await verifier.verify(token)).caller.userId).toBe('alice');
    await verifier.verify(token);
    expect(fetcher.calls).toEqual([DISCOVERY, DISCOVERY, DISCOVERY, JWKS_URI]);
  });

  it('keeps -c jwksUri as an override: no discovery at all', async () => {
    const fetcher = stubFetcher({ [JWKS_URI]: issuer.jwks });
    const verifier = createTokenVerifier(
      { issuer: ISSUER, audience: 'chat-test', jwksUri: JWKS_URI },
      fetcher,
    );
    expect((await verifier.verify(await issuer.sign({ sub: 'alice' }))).caller.userId).toBe(
      'alice',
    );
    expect(fetcher.calls).toEqual([JWKS_URI]);
  });
});

describe('the $connect authorizer without JWKS_URI (a real issuer on loopback)', () => {
  const connect = async (sub: string) =>
    authorize({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:eu-west-1:1:api/stage/$connect',
      headers: {},
      queryStringParameters: {
        token: await issuer.sign({ sub, iss: loopbackIssuer, aud: 'chat-test' }),
      },
    } as never);

  it('answers 401 (never a crash) while discovery fails, then discovers once and keeps it', async () => {
    served.keys = issuer.jwks;
    served.document = {
      issuer: loopbackIssuer,
      jwks_uri: `${loopbackIssuer.replace(/\/idp$/, '')}/keys/jwks`,
    };
    served.discoveryStatus = 503;
    // API Gateway answers 401 only to this exact error message.
    await expect(connect('alice')).rejects.toThrow(/^Unauthorized$/);
    expect(served.discovery).toBe(1);
    served.discoveryStatus = 200;
    expect((await connect('alice')).principalId).toBe('alice');
    expect((await connect('bob')).principalId).toBe('bob');
    expect(served).toMatchObject({ discovery: 2, jwksFetches: 1 });
  });
});
