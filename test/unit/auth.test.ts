import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { setTestEnv, testIssuer } from './support.ts';

setTestEnv();
const { bearerToken, cacheJwksForTests, callerFromClaims } = await import('#platform/auth.ts');
const { handler: authorize } = await import('#functions/ws/authorizer.ts');

let issuer: Awaited<ReturnType<typeof testIssuer>>;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let jwks: { keys: object[] };
beforeAll(async () => {
  issuer = await testIssuer();
  // A key of our own too, to sign tokens testIssuer() cannot (no aud, no exp).
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  const own = { ...(await exportJWK(pair.publicKey)), kid: 'own-key', alg: 'RS256', use: 'sig' };
  jwks = { keys: [...issuer.jwks.keys, own] };
  cacheJwksForTests(jwks as never);
});

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const connect = (token: string) =>
  authorize({
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:1:api/stage/$connect',
    headers: {},
    queryStringParameters: { token },
  } as never);

describe('token verification ($connect authorizer, aws-jwt-verify)', () => {
  it('accepts a token of the configured issuer and audience and names its caller', async () => {
    const result = await connect(await issuer.sign({ sub: 'alice', name: 'Alice' }));
    expect(result).toMatchObject({
      principalId: 'alice',
      context: { user_id: 'alice', name: 'Alice' },
    });
    const own = await new SignJWT({ sub: 'bob' })
      .setProtectedHeader({ alg: 'RS256', kid: 'own-key' })
      .setIssuer('https://issuer.test')
      .setAudience('chat-test')
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await connect(own)).principalId).toBe('bob');
  });

  it('refuses every token that is not exactly right with Unauthorized', async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await testIssuer();
    const claims = { sub: 'alice', iss: 'https://issuer.test', aud: 'chat-test', exp: now + 600 };
    const noAudience = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: 'own-key' })
      .setIssuer('https://issuer.test')
      .setExpirationTime('1h')
      .sign(privateKey);
    const noExpiry = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: 'own-key' })
      .setIssuer('https://issuer.test')
      .setAudience('chat-test')
      .sign(privateKey);
    const cases: Record<string, string> = {
      'another audience': await issuer.sign({ sub: 'alice', aud: 'some-other-app' }),
      'no audience': noAudience,
      'another issuer': await issuer.sign({ sub: 'alice', iss: 'https://evil.example.com' }),
      expired: await issuer.sign({ sub: 'alice', exp: now - 60 }),
      'no expiry': noExpiry,
      'another key': await other.sign({ sub: 'alice' }),
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'alg none, kid set': `${b64({ alg: 'none', kid: 'test-key' })}.${b64(claims)}.`,
      'HS256 with the public key as secret': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: 'test-key' })
        .sign(new TextEncoder().encode(JSON.stringify(issuer.jwks.keys[0]))),
      malformed: 'x.y.z',
      'no subject': await issuer.sign({}),
      empty: '',
    };
    for (const [what, token] of Object.entries(cases)) {
      await expect(connect(token), what).rejects.toThrow(/^Unauthorized$/);
    }
  });
});

describe('claims → caller', () => {
  it('takes sub and name (as API Gateway passes them, strings) and refuses a missing or huge sub', () => {
    expect(callerFromClaims({ sub: 'u_1', name: 'Ann', exp: '1700000000' })).toEqual({
      userId: 'u_1',
      name: 'Ann',
    });
    expect(callerFromClaims({ sub: 'u_1' })).toEqual({ userId: 'u_1', name: 'u_1' });
    for (const claims of [undefined, {}, { sub: '' }, { sub: 'x'.repeat(129) }, { sub: 7 }])
      expect(() => callerFromClaims(claims as never)).toThrow('Unauthorized');
  });

  it('reads a bearer header with or without the Bearer prefix, as API Gateway does', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('bearer   a.b.c ')).toBe('a.b.c');
    expect(bearerToken('a.b.c')).toBe('a.b.c');
    expect(bearerToken('Basic abc def')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('the audience', () => {
  it('is required to make a verifier', async () => {
    const { createTokenVerifier } = await import('#platform/auth.ts');
    expect(() =>
      createTokenVerifier({ issuer: 'https://i.test', audience: '', jwksUri: 'https://i.test/j' }),
    ).toThrow(/audience/);
  });
});

describe('the connection context', () => {
  it("carries the token's exp, and an action refuses a connection past it (or without one)", async () => {
    const { tokenExpired } = await import('#platform/ws.ts');
    const exp = Math.floor(Date.now() / 1000) + 120;
    const result = await connect(await issuer.sign({ sub: 'alice', exp }));
    expect(result.context).toMatchObject({ exp: String(exp) });
    const event = (value?: string | number) =>
      ({ requestContext: { authorizer: { user_id: 'alice', exp: value } } }) as never;
    expect(tokenExpired(event(String(exp)))).toBe(false);
    expect(tokenExpired(event(exp))).toBe(false);
    expect(tokenExpired(event(String(exp)), (exp + 1) * 1000)).toBe(true);
    expect(tokenExpired(event(String(exp)), exp * 1000)).toBe(true);
    expect(tokenExpired(event(undefined))).toBe(true);
    expect(tokenExpired(event('soon'))).toBe(true);
  });
});
