/**
 * The front door: the contract's `security` enforced before the request is read any further (API
 * keys in a header, the query or a cookie; bearer JWTs against a JWKS on loopback; basic; oauth2
 * scopes), alternatives as OR and schemes of one requirement as AND, top-level inheritance and
 * anonymous alternatives; the consumer known after the door (upstream header, log line, metric);
 * bad credentials refused and counted, none let through, nothing of them echoed.
 */
import { createPublicKey } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url } from 'jose';
import { hashPassword } from '../../src/security/basic-credentials.ts';
import type { SecurityApi } from '../../src/security/security-feature.ts';
import { FIXTURES, startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { AUDIENCE, ISSUER, startIssuer, type TestIssuer } from '../helpers/jwt-issuer.ts';

const ROOT = `${FIXTURES}secure-gateway`;

let issuer: TestIssuer;
let upstream: Awaited<ReturnType<typeof startHttpServer>>;
let gw: StartedGateway;
let acmeKey: string;
let security: SecurityApi;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

beforeAll(async () => {
  issuer = await startIssuer();
  upstream = await startHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, JWKS_URL: issuer.url, BASIC_CREDENTIALS: `clerk:${await hashPassword('counter-7')}` }, { adminServer: true });
  security = gw.gateway.feature<SecurityApi>('security') as SecurityApi;
  await security.consumers.addConsumer('acme', 'test consumer');
  acmeKey = (await security.consumers.issueKey('acme')).key;
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await issuer?.close();
});

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(gw.url + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function authCount(scheme: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^ficus_auth_checks_total\\{scheme="${scheme}",outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('requirements from the contract', () => {
  it('an operation inherits the top-level requirement: no key is 401 with a challenge; a key admits its consumer', async () => {
    const none = await call('/inherited');
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect(none.body?.type).toBe('https://ficus.dev/problems/unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('ApiKey realm="ficus", in="header", name="x-api-key"');
    expect(none.body?.detail).toContain('X-API-Key'.toLowerCase());

    const ok = await call('/inherited', { headers: { 'X-API-Key': acmeKey, 'Ficus-Consumer': 'someone-else' } });
    expect(ok.status).toBe(200);
    const seen = ok.body?.headers as Record<string, string>;
    expect(seen['ficus-consumer']).toBe('acme');
    expect(seen['x-api-key']).toBeUndefined();
    const line = gw.logLines.find((l) => l.operation === 'inheritedOp' && l.status === 200);
    expect(line?.consumer).toBe('acme');
    expect(JSON.stringify(gw.logLines)).not.toContain(acmeKey);
  });

  it('security: [] lets anyone in; an empty alternative makes the credential optional', async () => {
    expect((await call('/public')).status).toBe(200);
    const anon = await call('/optional');
    expect(anon.status).toBe(200);
    expect((anon.body?.headers as Record<string, string>)['ficus-consumer']).toBeUndefined();
    const named = await call('/optional', { headers: { 'x-api-key': acmeKey } });
    expect((named.body?.headers as Record<string, string>)['ficus-consumer']).toBe('acme');
  });

  it('alternatives are OR: an API key or a bearer token; neither is 401 naming both schemes', async () => {
    expect((await call('/either', { headers: { 'x-api-key': acmeKey } })).status).toBe(200);
    const viaToken = await call('/either', { headers: { authorization: `Bearer ${await issuer.token({ sub: 'partner-app' })}` } });
    expect(viaToken.status).toBe(200);
    expect((viaToken.body?.headers as Record<string, string>)['ficus-consumer']).toBe('partner-app');
    expect((viaToken.body?.headers as Record<string, string>).authorization).toBeUndefined();
    const none = await call('/either');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('ApiKey realm="ficus", in="header", name="x-api-key", Bearer realm="ficus"');
  });

  it('schemes in one requirement are AND: a query key alone is not enough; with basic it is, and the key is neither refused nor passed on', async () => {
    const keyOnly = await call(`/both?api_key=${acmeKey}`);
    expect(keyOnly.status).toBe(401);
    expect(keyOnly.text).not.toContain(acmeKey);
    const wrongPassword = await call(`/both?api_key=${acmeKey}`, { headers: { authorization: basic('clerk', 'wrong') } });
    expect(wrongPassword.status).toBe(401);
    const both = await call(`/both?api_key=${acmeKey}`, { headers: { authorization: basic('clerk', 'counter-7') } });
    expect(both.status).toBe(200);
    expect(both.body?.url).toBe('/echo');
  });

  it('an API key in the query sits beside the declared parameters; unknown parameters are still refused', async () => {
    const ok = await call(`/query?limit=5&api_key=${acmeKey}`);
    expect(ok.status).toBe(200);
    expect(ok.body?.url).toBe('/echo?limit=5');
    const unknown = await call(`/query?limit=5&color=red&api_key=${acmeKey}`);
    expect(unknown.status).toBe(400);
  });

  it('an API key in a cookie', async () => {
    expect((await call('/cookie', { headers: { cookie: `theme=dark; session_key=${acmeKey}` } })).status).toBe(200);
    expect((await call('/cookie', { headers: { cookie: 'theme=dark' } })).status).toBe(401);
    // Not valid percent-encoding: refused as a wrong key (it crashed the door with a 500 before).
    const garbled = await call('/cookie', { headers: { cookie: 'session_key=%E0%A4%A' } });
    expect(garbled.status).toBe(401);
    expect(garbled.body?.type).toBe('https://ficus.dev/problems/unauthorized');
  });

  it('oauth2 scopes: a token lacking one is 403 naming it; scope or scp granting all admits the client', async () => {
    const partial = await call('/scoped', { headers: { authorization: `Bearer ${await issuer.token({ client_id: 'reports', scope: 'orders:read' })}` } });
    expect(partial.status).toBe(403);
    expect(partial.body?.type).toBe('https://ficus.dev/problems/forbidden');
    expect(partial.body?.detail).toContain('orders:list');
    expect(partial.body?.missingScopes).toEqual(['orders:list']);
    const full = await call('/scoped', { headers: { authorization: `Bearer ${await issuer.token({ client_id: 'reports', scp: ['orders:read', 'orders:list'] })}` } });
    expect(full.status).toBe(200);
    expect((full.body?.headers as Record<string, string>)['ficus-consumer']).toBe('reports');
    const noToken = await call('/scoped');
    expect(noToken.status).toBe(401);
  });

  it('the door is before the body: an invalid body without credentials is 401, not 400', async () => {
    const res = await call('/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nope": 1}' });
    expect(res.status).toBe(401);
    const authed = await call('/items', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await issuer.token()}` }, body: '{"nope": 1}' });
    expect(authed.status).toBe(400);
  });
});

describe('keys issued, rotated and revoked', () => {
  it('a revoked key is refused at once; a rotated key keeps working through its grace', async () => {
    await security.consumers.addConsumer('globex');
    const first = await security.consumers.issueKey('globex');
    expect((await call('/inherited', { headers: { 'x-api-key': first.key } })).status).toBe(200);
    const rotated = await security.consumers.rotate('globex', 60_000);
    expect((await call('/inherited', { headers: { 'x-api-key': first.key } })).status).toBe(200);
    expect((await call('/inherited', { headers: { 'x-api-key': rotated.key } })).status).toBe(200);
    await security.consumers.revoke({ consumer: 'globex' });
    const before = await authCount('apiKeyHeader', 'unknown-key');
    for (const k of [first.key, rotated.key]) {
      const res = await call('/inherited', { headers: { 'x-api-key': k } });
      expect(res.status).toBe(401);
      expect(res.text).not.toContain(k);
    }
    expect(await authCount('apiKeyHeader', 'unknown-key')).toBe(before + 2);
  });

  it('keys are kept hashed: the store never holds one in clear', async () => {
    const issued = await security.consumers.issueKey('acme');
    const rows = await gw.gateway.store.all<Record<string, unknown>>('SELECT * FROM ficus_api_keys');
    expect(JSON.stringify(rows)).not.toContain(issued.key);
    expect(JSON.stringify(rows)).not.toContain(issued.key.slice(16));
  });
});

describe('bad tokens: each refused with its problem, counted, none let through', () => {
  const cases: [string, () => Promise<string>, string][] = [
    ['malformed', async () => 'not.a.jwt-at-all', 'malformed'],
    ['garbage', async () => 'x', 'malformed'],
    ['expired', () => issuer.token({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), 'expired'],
    ['not yet valid', () => issuer.token({}, { notBefore: Math.floor(Date.now() / 1000) + 600 }), 'not-yet-valid'],
    ['wrong audience', () => issuer.token({}, { audience: 'someone-else' }), 'wrong-audience'],
    ['wrong issuer', () => issuer.token({}, { issuer: 'https://evil.test' }), 'wrong-issuer'],
    [
      'signed by a stranger under a known kid',
      async () => {
        const s = await issuer.stranger();
        return issuer.token({}, { key: { ...s, kid: issuer.current.kid } });
      },
      'bad-signature',
    ],
    [
      'alg none',
      async () => {
        const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
        const p = base64url.encode(JSON.stringify({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 }));
        return `${h}.${p}.`;
      },
      'algorithm-not-allowed',
    ],
    [
      'HS256 signed with the RS public key',
      async () => {
        const pem = createPublicKey({ key: issuer.current.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
        return new SignJWT({ sub: 'mallory' })
          .setProtectedHeader({ alg: 'HS256', kid: issuer.current.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(pem));
      },
      'algorithm-not-allowed',
    ],
  ];
  for (const [name, make, reason] of cases) {
    it(`${name}: 401 (${reason})`, async () => {
      const token = await make();
      const before = await authCount('bearerAuth', reason);
      const res = await call('/items', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"name":"x"}' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="ficus"');
      expect(res.text).not.toContain(token);
      expect(await authCount('bearerAuth', reason)).toBe(before + 1);
    });
  }

  it('a huge Authorization header is 431 from the HTTP parser, and the gateway serves on', async () => {
    const { port } = new URL(gw.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.end(`GET /inherited HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`));
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).not.toContain('aaaa');
    const long = await call('/items', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${'a.b.'.repeat(2_500)}c` }, body: '{"name":"x"}' });
    expect(long.status).toBe(401);
    expect((await call('/public')).status).toBe(200);
  });
});

describe('the JWKS: cached, refreshed on an unknown kid (bounded), an outage does not stop cached keys', () => {
  it('a rotated key is fetched on first sight; a flood of unknown kids fetches at most once per cooldown', async () => {
    const fetchesBefore = issuer.fetches;
    await issuer.rotate();
    expect((await call('/either', { headers: { authorization: `Bearer ${await issuer.token()}` } })).status).toBe(200);
    expect(issuer.fetches).toBe(fetchesBefore + 1);
    const s = await issuer.stranger();
    for (let i = 0; i < 20; i++) {
      expect((await call('/either', { headers: { authorization: `Bearer ${await issuer.token({}, { key: { ...s, kid: `unknown-${i}` } })}` } })).status).toBe(401);
    }
    expect(issuer.fetches).toBe(fetchesBefore + 1);
  });

  it('JWKS down or garbage: tokens of cached keys go on; an unknown kid is 503 credentials-unverifiable once the cooldown allows a fetch', async () => {
    const verifier = security.verifiers.get('bearerAuth');
    for (const mode of ['down', 'garbage'] as const) {
      issuer.mode = mode;
      expect(await verifier?.refresh()).toBe(false);
      expect((await call('/either', { headers: { authorization: `Bearer ${await issuer.token()}` } })).status).toBe(200);
    }
    // The scheme with no cooldown passed yet refuses unknown kids as 401; the oauth scheme (default cooldown, never refreshed on a miss) tries and cannot.
    const s = await issuer.stranger();
    const unknown = await call('/scoped', { headers: { authorization: `Bearer ${await issuer.token({ client_id: 'x', scope: 'orders:read orders:list' }, { key: s })}` } });
    expect(unknown.status).toBe(503);
    expect(unknown.body?.type).toBe('https://ficus.dev/problems/credentials-unverifiable');
    expect(unknown.headers.get('retry-after')).toBe('5');
    issuer.mode = 'ok';
  });
});
