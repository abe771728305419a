/**
 * The `cache:` section is checked with the rest of the config before anything starts: each mistake
 * names the file, its line, the key and the fix; and the admin API refuses the same mistakes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrors } from '../../src/config/config-error.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { FIXTURES } from '../helpers/gateway.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const BASE = `server: { port: 0, host: 127.0.0.1 }
log: { level: silent }
state: { driver: sqlite, file: ':memory:' }
`;

async function errorsOf(cacheSection: string): Promise<ConfigErrors> {
  const root = mkdtempSync(join(tmpdir(), 'ficus-cache-config-'));
  dirs.push(root);
  cpSync(join(FIXTURES, 'http-gateway'), root, { recursive: true });
  writeFileSync(join(root, 'ficus.yaml'), BASE + cacheSection);
  try {
    await loadConfig({ root, env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
  } catch (err) {
    if (err instanceof ConfigErrors) return err;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('cache settings checked at start-up', () => {
  it('refuses a key that would mix consumers, with the line and the fix', async () => {
    const err = await errorsOf(`cache:
  routes:
    getCustomer:
      ttl: 30s
      vary: [header.accept-language]
`);
    const e = err.errors.find((x) => x.key === 'cache.routes.getCustomer.vary')!;
    expect(e.problem).toContain('one consumer would be served an answer cached for another');
    expect(e.fix).toContain('add consumer to vary, or set shared: true');
    expect(e.line).toBe(8);
    expect(e.message).toMatch(/ficus\.yaml:8: cache\.routes\.getCustomer\.vary/);
  });

  it('refuses caching a write, an invalidation naming a parameter the read lacks, a bad duration, an unknown key', async () => {
    const err = await errorsOf(`cache:
  routes:
    createNote:
      ttl: 30s
      invalidates: [getCustomer: body.text, listCustomers]
    getCustomer:
      ttl: soon
    listCustomers:
      ttl: 1m
      shared: true
      vary: []
      maxEntrys: 5
    nope:
      ttl: 1m
`);
    const byKey = new Map(err.errors.map((e) => [e.key, e]));
    expect(byKey.get('cache.routes.createNote.ttl')?.problem).toContain('only safe operations (GET, HEAD) are cached');
    expect(byKey.get('cache.routes.createNote.invalidates[0]')?.problem).toContain('getCustomer has no path or query parameter "text"');
    expect(byKey.get('cache.routes.createNote.invalidates[0]')?.fix).toContain('customerId');
    expect(byKey.get('cache.routes.getCustomer.ttl')?.problem).toContain('a duration such as');
    expect([...byKey.keys()].some((k) => k.startsWith('cache.routes.listCustomers') && byKey.get(k)!.problem.includes('maxEntrys'))).toBe(true);
    expect(byKey.get('cache.routes.nope')?.problem).toContain('not in the contract');
    // listCustomers' own settings (shared, no vary) are fine: only its misspelt key is reported.
    expect(err.errors.filter((e) => e.key.startsWith('cache.routes.listCustomers'))).toHaveLength(1);
  });

  it('refuses coalescing across instances without Redis, and a change feed the project does not have', async () => {
    const err = await errorsOf(`cache:
  routes:
    getSlow:
      coalesce: cluster
    getCustomer:
      ttl: 1m
      invalidatedBy:
        - { feed: customers, key: path.customerId }
`);
    const byKey = new Map(err.errors.map((e) => [e.key, e]));
    expect(byKey.get('cache.routes.getSlow.coalesce')?.problem).toBe('coalescing across instances needs Redis');
    expect(byKey.get('cache.routes.getSlow.coalesce')?.fix).toContain('set cache.redis');
    expect(byKey.get('cache.routes.getCustomer.invalidatedBy[0].feed')?.problem).toBe('no change feed is named "customers"');
    expect(byKey.get('cache.routes.getCustomer.invalidatedBy[0].feed')?.fix).toContain('declare the feed under changes: of a db adapter file');
    expect(err.errors.filter((e) => e.key.startsWith('cache.'))).toHaveLength(2);
  });

  it('accepts the fixture with the cache on', async () => {
    const cfg = await loadConfig({ root: join(FIXTURES, 'http-gateway'), file: 'ficus-cache.yaml', env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
    expect(Object.keys(cfg.gateway.cache.routes).sort()).toEqual(['createNote', 'getCustomer', 'getSlow', 'listCustomers']);
    expect(cfg.gateway.cache.routes.getCustomer.ttl).toBe(3_600_000);
    const shared = await loadConfig({ root: join(FIXTURES, 'http-gateway'), file: 'ficus-cache-redis.yaml', env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
    expect(shared.gateway.cache.routes.getSlow.coalesce).toBe('cluster');
    expect(shared.gateway.cache.redis?.lockTtl).toBe(30_000);
  });
});
