/**
 * `ficus check`: every mistake of a project at once, each with file, line, key and fix, and none
 * that only follows from another; nothing started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway.ts';
import { FIXTURES, PROJECT_ROOT } from '../helpers/gateway.ts';

const FICUS = join(PROJECT_ROOT, 'bin', 'ficus.js');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function migrationProject(): string {
  const root = mkdtempSync(join(tmpdir(), 'ficus-check-'));
  dirs.push(root);
  cpSync(join(FIXTURES, 'migration-gateway', 'openapi.yaml'), join(root, 'openapi.yaml'));
  cpSync(join(FIXTURES, 'migration-gateway', 'adapters'), join(root, 'adapters'), { recursive: true });
  return root;
}

function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (typeof from === 'string' ? !text.includes(from) : !from.test(text)) throw new Error(`fixture edit did not apply to ${file}`);
  writeFileSync(file, text.replace(from, to));
}

const GOOD_ENV = { LEGACY_URL: 'http://127.0.0.1:9', MODERN_URL: 'http://127.0.0.1:9', FICUS_ADMIN_TOKENS: 'alice:alice-secret-token' };

/** Ten independent mistakes: five in ficus.yaml, three in the legacy adapter, one in the modern one, one in the environment. */
function tenMistakes(root: string): void {
  writeFileSync(
    join(root, 'ficus.yaml'),
    [
      'server:',
      '  prot: 8080', // 1: unknown key
      'state: { driver: sqlite, file: ":memory:" }',
      'routes:',
      '  getCustomer:',
      '    mode: sideways', // 2: not a mode
      '  getQuote:',
      '    canary:',
      '      key: path.quoteNumber', // 3: no such parameter
      '  getLegacyOnly:',
      '    gates:',
      '      steps:',
      '        - { from: legacy, to: modern, clean: 1m }', // 4: getLegacyOnly has no modern backend
      'writes:',
      '  routes:',
      '    listCustomers: {}', // 5: a GET writes nothing
      '',
    ].join('\n'),
  );
  const legacy = join(root, 'adapters/legacy-crm/adapter.yaml');
  edit(legacy, /^ {2}timeoutMs: .*$/m, '  timeoutMillis: 2000'); // 6: unknown key
  edit(legacy, "getCustomer: { path: '/customers/{customerId}' }", "getCustomer: { path: '/customers/{id}' }"); // 7: found by the kind when binding
  edit(legacy, '  getLegacyOnly: { path: /legacy-only }', '  getLegacyOnly: { path: /legacy-only }\n  getNothing: { path: /nothing }'); // 8: not in the contract
  edit(join(root, 'adapters/modern-customers/adapter.yaml'), '${env:MODERN_URL}', '${env:MODERN_CRM_URL}'); // 9: missing variable
}
const TEN_ENV = { ...GOOD_ENV, FICUS_ADMIN_TOKENS: 'alice:short' }; // 10: a token too short

describe('ficus check', () => {
  it('passes a correct project and exits 0 without starting anything', async () => {
    const root = migrationProject();
    writeFileSync(join(root, 'ficus.yaml'), 'state: { driver: sqlite, file: ":memory:" }\n');
    expect(await Gateway.check({ root, env: GOOD_ENV })).toEqual([]);
    const r = spawnSync(process.execPath, [FICUS, 'check', '--root', root], { encoding: 'utf8', env: { ...process.env, ...GOOD_ENV }, timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('reports exactly ten independent mistakes across ficus.yaml, two adapter files and the environment, each with file, line, key and fix', async () => {
    const root = migrationProject();
    tenMistakes(root);
    const errors = await Gateway.check({ root, env: TEN_ENV });
    const found = errors.map((e) => `${e.file.replace(/^.*?(ficus\.yaml|adapters\/[^/]+\/adapter\.yaml|environment variable \w+)$/, '$1')} ${e.key}`).sort();
    expect(found).toEqual(
      [
        'adapters/legacy-crm/adapter.yaml operations.getCustomer.path',
        'adapters/legacy-crm/adapter.yaml operations.getNothing',
        'adapters/legacy-crm/adapter.yaml policy.timeoutMillis',
        'adapters/modern-customers/adapter.yaml connection.baseUrl',
        'environment variable FICUS_ADMIN_TOKENS entry 1',
        'ficus.yaml routes.getCustomer.mode',
        'ficus.yaml routes.getLegacyOnly.gates.steps[0].to',
        'ficus.yaml routes.getQuote.canary.key',
        'ficus.yaml server.prot',
        'ficus.yaml writes.routes.listCustomers',
      ].sort(),
    );
    for (const e of errors) {
      expect(e.fix.length, e.message).toBeGreaterThan(0);
      if (!e.file.startsWith('environment')) expect(e.line, e.message).toBeGreaterThan(0);
    }
    const line = (key: string) => errors.find((e) => e.key === key)?.line;
    expect(line('server.prot')).toBe(2);
    expect(line('routes.getCustomer.mode')).toBe(6);
    expect(line('routes.getQuote.canary.key')).toBe(9);

    const r = spawnSync(process.execPath, [FICUS, 'check', '--root', root], { encoding: 'utf8', env: { ...process.env, ...TEN_ENV }, timeout: 60_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('10 configuration errors');
    expect(r.stderr).toMatch(/ficus\.yaml:2: server\.prot: unknown key "prot"/);
    expect(r.stderr).toMatch(/adapters\/legacy-crm\/adapter\.yaml:\d+: operations\.getCustomer\.path: .*\{id\}/);
  });

  it('refuses a write route whose body the outbox cannot keep (a multipart upload), naming the route', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ficus-check-'));
    dirs.push(root);
    cpSync(join(FIXTURES, 'multipart-gateway'), root, { recursive: true });
    const env = { UPSTREAM_URL: 'http://127.0.0.1:9', UPLOAD_DIR: root };
    expect(await Gateway.check({ root, env })).toEqual([]);
    writeFileSync(join(root, 'ficus.yaml'), readFileSync(join(root, 'ficus.yaml'), 'utf8') + 'writes:\n  routes:\n    uploadDocument: {}\n');
    const errors = await Gateway.check({ root, env });
    expect(errors.map((e) => e.key)).toEqual(['writes.routes.uploadDocument']);
    expect(errors[0].problem).toMatch(/multipart\/form-data request bodies, which the outbox cannot keep/);
    expect(errors[0].line).toBeGreaterThan(0);
  });

  it('reports a broken adapter file once: the operations it would serve are not then reported as unserved', async () => {
    const root = migrationProject();
    writeFileSync(join(root, 'ficus.yaml'), 'state: { driver: sqlite, file: ":memory:" }\nroutes:\n  getLegacyOnly: { mode: legacy }\n');
    edit(join(root, 'adapters/legacy-crm/adapter.yaml'), 'kind: http', 'kind: http\nflavour: vanilla');
    const errors = await Gateway.check({ root, env: GOOD_ENV });
    expect(errors.map((e) => e.key)).toEqual(['flavour']);
  });

  it('reports a missing environment variable once, not again as the wrong type of the value it was to fill', async () => {
    const root = migrationProject();
    writeFileSync(join(root, 'ficus.yaml'), 'state: { driver: sqlite, file: ":memory:" }\nserver:\n  port: ${env:GATEWAY_PORT}\n');
    const errors = await Gateway.check({ root, env: GOOD_ENV });
    expect(errors.map((e) => `${e.key}: ${e.problem}`)).toEqual(['server.port: environment variable GATEWAY_PORT is not set']);
  });

  it('freezes the loaded config: nothing changes it after the check', async () => {
    const root = migrationProject();
    writeFileSync(join(root, 'ficus.yaml'), 'state: { driver: sqlite, file: ":memory:" }\n');
    const { loadConfig } = await import('../../src/config/load-config.ts');
    const config = await loadConfig({ root, env: GOOD_ENV });
    expect(Object.isFrozen(config.gateway.server)).toBe(true);
    expect(() => {
      (config.gateway.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
