import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrors } from '../../src/config/config-error.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { Gateway } from '../../src/gateway.ts';
import { FIXTURES, memoryLogger } from '../helpers/gateway.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the core fixture project, with one file edited. */
function project(edit: (root: string) => void): string {
  const root = mkdtempSync(join(tmpdir(), 'ficus-config-'));
  dirs.push(root);
  cpSync(join(FIXTURES, 'http-gateway'), root, { recursive: true });
  edit(root);
  return root;
}

function replaceIn(file: string, from: string | RegExp, to: string) {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`fixture edit did not apply to ${file}`);
  writeFileSync(file, next);
}

async function configErrors(root: string, env: Record<string, string> = { UPSTREAM_URL: 'http://127.0.0.1:9' }): Promise<ConfigErrors> {
  try {
    await loadConfig({ root, env });
  } catch (err) {
    if (err instanceof ConfigErrors) return err;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

const ADAPTER = 'adapters/upstream/adapter.yaml';

describe('configuration mistakes stop the start with file, key and fix', () => {
  it('accepts the fixture as it is', async () => {
    const cfg = await loadConfig({ root: join(FIXTURES, 'http-gateway'), env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
    expect(cfg.routes.map((r) => r.operationId).sort()).toEqual(['createNote', 'getCustomer', 'getFlaky', 'getSlow', 'listCustomers']);
  });

  it('names a misspelt key and lists the keys allowed there', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), 'policy:\n  timeoutMs', 'policy:\n  timeoutMillis'));
    const [e] = (await configErrors(root)).errors;
    expect(e.file).toContain(ADAPTER);
    expect(e.key).toBe('policy.timeoutMillis');
    expect(e.message).toContain('unknown key "timeoutMillis"');
    expect(e.fix).toContain('timeoutMs');
  });

  it('names a missing environment variable', async () => {
    const err = await configErrors(join(FIXTURES, 'http-gateway'), {});
    const e = err.errors.find((x) => x.key === 'connection.baseUrl');
    expect(e?.message).toContain('UPSTREAM_URL is not set');
    expect(e?.fix).toContain('set UPSTREAM_URL');
  });

  it('refuses an operationId that is not in the contract, listing the ones that are', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), 'getFlaky: {}', 'getFlaky: {}\n  getInvoice: {}'));
    const e = (await configErrors(root)).errors.find((x) => x.key === 'operations.getInvoice');
    expect(e?.message).toContain('not in openapi.yaml');
    expect(e?.fix).toContain('getCustomer');
  });

  it('refuses to start when an operation of the contract is served by no adapter', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), '  getFlaky: {}\n', ''));
    const e = (await configErrors(root)).errors.find((x) => x.message.includes('getFlaky'));
    expect(e?.file).toBe('openapi.yaml');
    expect(e?.message).toContain('served by no adapter');
    expect(e?.fix).toContain('operations:');
  });

  it('refuses a secret written in the file', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), 'baseUrl: ${env:UPSTREAM_URL}', 'baseUrl: ${env:UPSTREAM_URL}\n  apiToken: hunter2'));
    const e = (await configErrors(root)).errors.find((x) => x.key === 'connection.apiToken');
    expect(e?.message).toContain('secret');
    expect(e?.fix).toContain('${env:');
  });

  it('refuses an unknown kind, listing the known ones', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), 'kind: http', 'kind: telnet'));
    const e = (await configErrors(root)).errors.find((x) => x.key === 'kind');
    expect(e?.message).toContain('unknown kind "telnet"');
    expect(e?.fix).toContain('http');
  });

  it('reports broken YAML with its line', async () => {
    const root = project((r) => writeFileSync(join(r, 'ficus.yaml'), 'server:\n  port: [1, 2\n'));
    const e = (await configErrors(root)).errors[0];
    expect(e.file).toContain('ficus.yaml');
    expect(e.message).toMatch(/line \d+/);
  });

  it('reports a binding mistake found by the kind at start-up, naming the binding key', async () => {
    const root = project((r) => replaceIn(join(r, ADAPTER), 'path: /customers/{customerId}', 'path: /customers/{id}'));
    const { logger } = memoryLogger();
    const err = await Gateway.create({ root, env: { UPSTREAM_URL: 'http://127.0.0.1:9' }, logger, processMetrics: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigErrors);
    const e = (err as ConfigErrors).errors[0];
    expect(e.key).toBe('operations.getCustomer.path');
    expect(e.message).toContain('{id} is not a path parameter');
    expect(e.fix).toContain('{customerId}');
  });

  it('reports all mistakes of one start together', async () => {
    const root = project((r) => {
      replaceIn(join(r, ADAPTER), 'kind: http', 'kind: http\nflavour: strawberry');
      replaceIn(join(r, 'ficus.yaml'), 'server:', 'routes:\n  getNothing: { mode: legacy }\nserver:');
    });
    const err = await configErrors(root);
    expect(err.errors.length).toBeGreaterThanOrEqual(2);
    expect(err.message).toContain('flavour');
    expect(err.message).toContain('getNothing');
  });
});
