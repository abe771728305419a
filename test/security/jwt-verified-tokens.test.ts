/**
 * Tokens already verified are remembered until they expire, so a client's repeated calls with one
 * token cost a lookup, not a signature check; remembering never admits what verifying would refuse.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { AuthFailure } from '../../src/security/auth-failure.ts';
import { JwtVerifier } from '../../src/security/jwt-verifier.ts';
import { jwtSchemeConfigSchema } from '../../src/security/security-config.ts';
import { AUDIENCE, ISSUER, startIssuer, type TestIssuer } from '../helpers/jwt-issuer.ts';

let issuer: TestIssuer;
const verifiers: JwtVerifier[] = [];
beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(() => issuer.close());
afterEach(() => {
  vi.useRealTimers();
  for (const v of verifiers.splice(0)) v.close();
});

async function verifier(extra: Record<string, unknown> = {}): Promise<JwtVerifier> {
  const v = new JwtVerifier('bearer', jwtSchemeConfigSchema.parse({ jwksUrl: issuer.url, issuer: ISSUER, audience: AUDIENCE, clockSkew: '0s', ...extra }), createLogger({ level: 'silent' }));
  verifiers.push(v);
  await v.start();
  return v;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthFailure);
  return (err as AuthFailure).reason;
}

describe('verified tokens remembered', () => {
  it('answers a token seen before from memory, with the same claims', async () => {
    const v = await verifier();
    const token = await issuer.token({ scope: 'read' });
    const first = await v.verify(token);
    expect(v.remembered).toBe(1);
    const again = await v.verify(token);
    expect(again).toBe(first);
    expect(again.scope).toBe('read');
    expect(v.remembered).toBe(1);
  });

  it('refuses a remembered token once it has expired', async () => {
    const v = await verifier();
    const token = await issuer.token({}, { expiresIn: '2m' });
    const claims = await v.verify(token);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(((claims.exp as number) + 1) * 1000);
    expect(await refusal(v.verify(token))).toBe('expired');
    expect(v.remembered).toBe(0);
  });

  it('forgets every remembered token when the keys are fetched again, so a withdrawn key stops its tokens', async () => {
    const v = await verifier();
    const old = await issuer.token();
    await v.verify(old);
    await issuer.rotate(true); // the old key is no longer published
    expect(await v.refresh()).toBe(true);
    expect(v.remembered).toBe(0);
    expect(await refusal(v.verify(old))).toBe('bad-signature');
    await v.verify(await issuer.token()); // the new key's tokens verify
  });

  it('never remembers a refused token, and keeps no more than verifiedTokens', async () => {
    const v = await verifier({ verifiedTokens: 3 });
    const forged = await issuer.token({}, { key: await issuer.stranger() });
    expect(await refusal(v.verify(forged))).toBe('bad-signature');
    expect(await refusal(v.verify(forged))).toBe('bad-signature');
    expect(v.remembered).toBe(0);
    for (let i = 0; i < 5; i++) await v.verify(await issuer.token({ sub: `user-${i}` }));
    expect(v.remembered).toBe(3);
  });

  it('verifies every time with verifiedTokens: 0', async () => {
    const v = await verifier({ verifiedTokens: 0 });
    await v.verify(await issuer.token());
    expect(v.remembered).toBe(0);
  });
});
