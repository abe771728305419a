import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ficus } from '../fixtures/ficus-cli.ts';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { parseExchangeLine, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';

const ROOT = join(FIXTURES, 'replay-sample');
const TOKEN = 'ops-token-123456';

function recorded(dir: string, operationId: string): RecordedExchange[] {
  const opDir = join(dir, operationId);
  let files: string[];
  try {
    files = readdirSync(opDir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort();
  } catch {
    return [];
  }
  return files.flatMap((f) =>
    readFileSync(join(opDir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const p = parseExchangeLine(l);
        if (!p.ok) throw new Error(`${f}: ${p.reason}`);
        return p.exchange;
      }),
  );
}

describe('recording through a running gateway', () => {
  let svc: RunningService;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let adminUrl: string;
  let dir: string;
  const admin = (method: string, path: string, body?: unknown, token = TOKEN) =>
    fetch(adminUrl + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-gwrec-'));
    svc = await startModernCustomers();
    gw = await startGateway(ROOT, { CUSTOMERS_SERVICE_URL: svc.url, RECORDING_DIR: dir, FICUS_ADMIN_TOKENS: `ops:${TOKEN}` });
    adminUrl = await gw.gateway.control.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await gw?.close();
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is off by default, and switched on and off per route through the admin API', async () => {
    await (await fetch(`${gw.url}/customers/1001`)).arrayBuffer();
    let res = await admin('POST', '/recording/getCustomer/start', { sample: 1, for: '1h' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ operationId: 'getCustomer', sample: 1, source: 'admin' });
    for (const id of [1002, 1003, 1002]) await (await fetch(`${gw.url}/customers/${id}`, { headers: { authorization: 'Bearer caller-secret-token' } })).arrayBuffer();
    res = await admin('POST', '/recording/getCustomer/stop');
    expect(await res.json()).toMatchObject({ stopped: true });
    await (await fetch(`${gw.url}/customers/1004`)).arrayBuffer();
    await admin('POST', '/recording/flush');
    const lines = recorded(dir, 'getCustomer');
    expect(lines.map((l) => [l.request.path, l.count])).toEqual([
      ['/customers/1002', 2],
      ['/customers/1003', 1],
    ]);
    expect(lines[0]).toMatchObject({ backend: 'modern', adapter: 'customers-service', response: { status: 200 } });
    const text = readdirSync(join(dir, 'getCustomer'))
      .map((f) => readFileSync(join(dir, 'getCustomer', f), 'utf8'))
      .join('');
    expect(text).not.toContain('caller-secret-token');
    expect(text).not.toMatch(/"email":"[^"]*@/);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_recording_exchanges\{operation="getCustomer",outcome="recorded"\} 3/);
    expect(metrics).toMatch(/ficus_recording_exchanges\{operation="getCustomer",outcome="collapsed"\} 1/);
    expect(metrics).toMatch(/ficus_recording_exchanges\{operation="getCustomer",outcome="dropped"\} 0/);
  });

  it('refuses bad admin requests with a clear problem, and requests without a token', async () => {
    let res = await admin('POST', '/recording/getCustomer/start', { sample: 5 });
    expect(res.status).toBe(400);
    expect((await res.json()) as { detail: string }).toMatchObject({ detail: expect.stringMatching(/sample must be a number above 0 and at most 1/) });
    res = await admin('POST', '/recording/getCustomer/start', { sample: 0.5, for: 'soon' });
    expect(res.status).toBe(400);
    res = await admin('POST', '/recording/noSuchOperation/start', {});
    expect(res.status).toBe(404);
    res = await admin('GET', '/recording', undefined, 'wrong-token-123');
    expect(res.status).toBe(401);
  });

  it('answers 400 naming the field for a duration too long to end, and leaves recording off', async () => {
    const res = await admin('POST', '/recording/listCustomers/start', { sample: 1, for: '99999999999999h' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: expect.stringMatching(/validation$/), errors: [{ field: 'body.for' }] });
    const status = (await (await admin('GET', '/recording')).json()) as { routes: { operationId: string; sample: number }[] };
    expect(status.routes.find((r) => r.operationId === 'listCustomers')?.sample ?? 0).toBe(0);
  });

  it('is driven from the CLI: ficus record start, status, stop', async () => {
    const cli = (...args: string[]) => ficus('record', ...args, '--url', adminUrl, '--token', TOKEN);
    let r = await cli('start', 'listCustomers', '--sample', '0.5', '--for', '30m');
    expect(r.stdout).toMatch(/listCustomers\s+on, 50% of calls until/);
    r = await cli('status');
    expect(r.stdout).toMatch(/listCustomers\s+on, 50% of calls/);
    expect(r.stdout).toMatch(/getCustomer\s+off/);
    r = await cli('stop', 'listCustomers');
    expect(r.stdout).toContain('listCustomers: recording stopped');
    r = await cli('start', 'listCustomers', '--sample', '2');
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/--sample must be above 0 and at most 1/) });
    r = await cli('start', 'noSuchOperation');
    expect(r).toMatchObject({ code: 4, stderr: expect.stringMatching(/404 Not found: operation "noSuchOperation" is not in the contract/) });
  });
});

describe('ficus record capture', () => {
  it('sends a traffic file through a gateway started for it and records every operation it calls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-capture-'));
    const svc = await startModernCustomers();
    try {
      const traffic = join(dir, 'traffic.txt');
      writeFileSync(traffic, '# a comment\nGET /customers/1001\nGET /customers/1001\n\nGET /customers?limit=2\nGET /customers/5\n');
      process.env.RECORDING_DIR = join(dir, 'rec');
      process.env.CUSTOMERS_SERVICE_URL = svc.url;
      const r = await ficus('record', 'capture', traffic, '--root', ROOT);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('sent 4 requests (3× 200, 1× 404)');
      expect(recorded(join(dir, 'rec'), 'getCustomer').map((l) => [l.request.path, l.response.status, l.count])).toEqual([
        ['/customers/1001', 200, 2],
        ['/customers/5', 404, 1],
      ]);
      expect(recorded(join(dir, 'rec'), 'listCustomers')).toHaveLength(1);
      writeFileSync(traffic, 'GET /customers/1001\nFETCH customers\n');
      expect(await ficus('record', 'capture', traffic, '--root', ROOT)).toMatchObject({ code: 2, stderr: expect.stringMatching(/traffic\.txt:2: expected "METHOD \/path \[JSON body\]"/) });
    } finally {
      delete process.env.RECORDING_DIR;
      delete process.env.CUSTOMERS_SERVICE_URL;
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recording switched on in ficus.yaml', () => {
  it('records the configured routes from start-up and redacts the configured paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-cfgrec-'));
    const svc = await startModernCustomers();
    const { gateway, url } = await startGateway(ROOT, { CUSTOMERS_SERVICE_URL: svc.url, RECORDING_DIR: dir }, { file: 'ficus-recording-on.yaml', level: 'warn' });
    try {
      await (await fetch(`${url}/customers?limit=3`)).arrayBuffer();
      await (await fetch(`${url}/customers/1001`)).arrayBuffer();
      await gateway.recorder.flush();
      const lines = recorded(dir, 'listCustomers');
      expect(lines).toHaveLength(1);
      const items = (lines[0].response.body as { items: { address: { postalCode: string; city: string } }[] }).items;
      expect(items).toHaveLength(3);
      for (const i of items) expect(i.address.postalCode).toMatch(/^redacted:/);
      expect(recorded(dir, 'getCustomer')).toEqual([]);
    } finally {
      await gateway.close(1_000);
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
