/**
 * Consumers and keys through the admin API (what `ficus consumers` calls): add, issue (the key shown
 * once), list (never the key), rotate with a grace, revoke; each change audited with the admin's name;
 * and `ficus consumers` itself against it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { hashPassword } from '../../src/security/basic-credentials.ts';
import { FIXTURES, startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { startIssuer, type TestIssuer } from '../helpers/jwt-issuer.ts';

let issuer: TestIssuer;
let upstream: Awaited<ReturnType<typeof startHttpServer>>;
let gw: StartedGateway;
const auth = { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' };

beforeAll(async () => {
  issuer = await startIssuer();
  upstream = await startHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  gw = await startGateway(
    `${FIXTURES}secure-gateway`,
    { UPSTREAM_URL: upstream.url, JWKS_URL: issuer.url, BASIC_CREDENTIALS: `u:${await hashPassword('p')}`, FICUS_ADMIN_TOKENS: 'alice:alice-secret-token' },
    { adminServer: true, level: 'silent' },
  );
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await issuer?.close();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(gw.adminUrl + path, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const call = (key: string) => fetch(`${gw.url}/inherited`, { headers: { 'x-api-key': key } }).then((r) => r.status);

describe('consumers through the admin API', () => {
  it('add, issue, list, rotate and revoke; audited; a key is shown only when issued', async () => {
    expect((await admin('POST', '/consumers', { name: 'initech', description: 'TPS reports' })).status).toBe(201);
    expect((await admin('POST', '/consumers', { name: 'initech' })).status).toBe(409);
    expect((await admin('POST', '/consumers', { name: 'no spaces please' })).status).toBe(400);
    const issued = await admin('POST', '/consumers/initech/keys');
    expect(issued.status).toBe(201);
    const key = String(issued.body.key);
    expect(await call(key)).toBe(200);
    const listed = await admin('GET', '/consumers/initech/keys');
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect((await admin('GET', '/consumers')).body.consumers).toContainEqual(expect.objectContaining({ name: 'initech', activeKeys: 1 }));
    const rotated = await admin('POST', '/consumers/initech/keys/rotate', { grace: '0s' });
    expect(rotated.status).toBe(201);
    expect(await call(key)).toBe(401);
    expect(await call(String(rotated.body.key))).toBe(200);
    expect((await admin('DELETE', `/consumers/initech/keys/${String(rotated.body.id)}`)).status).toBe(200);
    expect(await call(String(rotated.body.key))).toBe(401);
    expect((await admin('POST', '/consumers/nobody/keys')).status).toBe(404);
    const audit = (await admin('GET', '/audit')).body.entries as { operationId: string; actor: string; action: string }[];
    const mine = audit.filter((e) => e.operationId === 'consumer:initech').map((e) => `${e.actor} ${e.action}`);
    expect(mine).toEqual(['alice key-revoke', 'alice key-rotate', 'alice key-issue', 'alice consumer-add']);
  });

  it('ficus consumers add / keys issue print what the API answered', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await main(['node', 'ficus', 'consumers', 'add', 'hooli', '--url', gw.adminUrl, '--token', 'alice-secret-token']);
      await main(['node', 'ficus', 'consumers', 'keys', 'issue', 'hooli', '--url', gw.adminUrl, '--token', 'alice-secret-token']);
    } finally {
      process.stdout.write = write;
      process.exitCode = 0;
    }
    expect(out.join('')).toContain('added consumer hooli');
    const key = /fk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(out.join(''))?.[0];
    expect(key).toBeDefined();
    expect(await call(key as string)).toBe(200);
  });
});
