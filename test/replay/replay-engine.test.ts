import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { formatExchange, FORMAT_VERSION, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { Redactor } from '../../src/recording/redactor.ts';
import { summaryText } from '../../src/replay/console-report.ts';
import { htmlReport } from '../../src/replay/html-report.ts';
import { junitXml } from '../../src/replay/junit-report.ts';
import { readRecordings } from '../../src/replay/recording-reader.ts';
import { exitCodeOf, replay, type ReplayOptions } from '../../src/replay/replay-engine.ts';
import { UrlTarget } from '../../src/replay/replay-target.ts';
import { json, PROJECT_ROOT, startHttpServer } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const redactor = new Redactor({ contract, key: 'replay-test-key' });

function customer(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    name: `Customer ${id}`,
    email: `c${id}@example.com`,
    status: 'active',
    vip: false,
    creditLimit: 100,
    createdOn: '2001-02-03',
    updatedAt: '2024-01-01T00:00:00Z',
    address: { lines: ['1 Road'], city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
    ...over,
  };
}

function exchange(id: number, body: unknown, over: Partial<RecordedExchange> = {}): RecordedExchange {
  const response = redactor.redact(
    contract.operation('getCustomer'),
    'getCustomer',
    { method: 'GET', path: `/customers/${id}`, query: {}, headers: {}, body: null },
    { status: 200, headers: {}, body },
  ).response;
  return {
    v: FORMAT_VERSION,
    operationId: 'getCustomer',
    time: '2026-01-01T00:00:00.000Z',
    count: 1,
    backend: 'legacy',
    adapter: 'crm-db',
    latencyMs: 3,
    gateway: '0.1.0',
    key: redactor.keyId,
    request: { method: 'GET', path: `/customers/${id}`, query: {}, headers: {}, body: null },
    response,
    redacted: [],
    findings: [],
    ...over,
  };
}

/** The "backend": customers, with vip flipped for some ids and updatedAt of the moment for others. */
let flipVip = new Set<number>();
let volatile = false;
let posts = 0;
let inFlight = 0;
let maxInFlight = 0;
const server = await startHttpServer((req, res) => {
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  setTimeout(() => {
    inFlight--;
    const m = /^\/customers\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && req.url === '/orders') {
      posts++;
      return json(res, 201, { orderId: 'O-1', status: 'accepted' });
    }
    if (!m) return json(res, 404, { type: 'about:blank', title: 'Not found', status: 404, requestId: String(Math.random()) }, 'application/problem+json');
    const id = Number(m[1]);
    json(res, 200, customer(id, { vip: flipVip.has(id), ...(volatile ? { updatedAt: new Date(Date.now() - Math.floor(Math.random() * 1e9)).toISOString() } : {}) }));
  }, 5);
});

const dirs: string[] = [];
function writeRecording(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-replay-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'getCustomer.jsonl'), lines.join('\n') + '\n');
  return dir;
}

let target: UrlTarget;
beforeAll(() => {
  target = new UrlTarget(server.url, 8);
});
afterEach(() => {
  flipVip = new Set();
  volatile = false;
});
afterAll(async () => {
  await target.close();
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const opts = (over: Partial<ReplayOptions> = {}): ReplayOptions => ({ contract, redactor, target, concurrency: 4, ...over });

describe('replay', () => {
  it('passes when every answer matches its recording, and says which one differs otherwise', async () => {
    const dir = writeRecording([1, 2, 3, 4].map((id) => formatExchange(exchange(id, customer(id)))));
    flipVip = new Set([3]);
    const { items, bad } = await readRecordings([dir], contract);
    const run = await replay(items, bad, opts());
    expect(run.byOperation).toEqual({ getCustomer: { pass: 3, fail: 1, error: 0, skipped: 0 } });
    const failed = run.results.find((r) => r.outcome === 'fail');
    expect(failed?.item.line).toBe(3);
    expect(failed?.differences).toEqual([{ path: '$.vip', legacy: false, modern: true, kind: 'changed' }]);
    expect(exitCodeOf(run)).toBe(1);
    const text = summaryText(run);
    expect(text).toMatch(/getCustomer\s+3\s+1\s+0\s+0/);
    expect(text).toContain('getCustomer.jsonl:3');
    expect(text).toContain('$.vip: recorded false, replayed true');
    expect(text).toContain('FAIL: 1 exchange differ');
  });

  it('compares through the contract: a padded legacy answer with numbers as text still matches', async () => {
    const legacyStyle = customer(7, { name: 'Customer 7      ', creditLimit: '100.00', createdOn: '20010203', updatedAt: '2024-01-01 01:00:00+01:00' });
    const run = await replay((await readRecordings([writeRecording([formatExchange(exchange(7, legacyStyle))])], contract)).items, [], opts());
    expect(run.results[0]).toMatchObject({ outcome: 'pass' });
    expect(exitCodeOf(run)).toBe(0);
  });

  it('compares redacted fields by their keyed hash', async () => {
    const run = await replay(
      (await readRecordings([writeRecording([formatExchange(exchange(8, customer(8))), formatExchange(exchange(9, customer(9, { email: 'someone-else@example.com' })))])], contract)).items,
      [],
      opts(),
    );
    expect(run.results.map((r) => r.outcome)).toEqual(['pass', 'fail']);
    expect(run.results[1].differences.map((d) => d.path)).toEqual(['$.email']);
    expect(JSON.stringify(run.results[1])).not.toContain('someone-else@example.com');
  });

  it('reports bad lines with file and line, and replays the rest', async () => {
    const good = formatExchange(exchange(1, customer(1)));
    const dir = writeRecording([
      good,
      good.slice(0, 80),
      JSON.stringify({ ...JSON.parse(good), v: 2 }),
      JSON.stringify({ ...JSON.parse(good), operationId: 'getInvoicePdf' }),
      '{"v":1,"operationId":"getCustomer"}',
      formatExchange(exchange(2, customer(2))),
    ]);
    const { items, bad } = await readRecordings([dir], contract);
    expect(items.map((i) => i.line)).toEqual([1, 6]);
    expect(bad.map((b) => [b.line, b.reason])).toEqual([
      [2, expect.stringMatching(/not valid JSON \(a truncated or corrupted line\?\)/)],
      [3, expect.stringMatching(/format version 2 is newer than this ficus reads \(1\)/)],
      [4, expect.stringMatching(/operation "getInvoicePdf" is no longer in .*openapi\.yaml/)],
      [5, expect.stringMatching(/field time/)],
    ]);
    for (const b of bad) expect(b.file).toMatch(/getCustomer\.jsonl$/);
    const run = await replay(items, bad, opts());
    expect(run.byOperation.getCustomer.pass).toBe(2);
    expect(exitCodeOf(run)).toBe(3);
    expect(summaryText(run)).toMatch(/getCustomer\.jsonl:3: recording format version 2/);
  });

  it('replays only safe methods unless told otherwise', async () => {
    const post: RecordedExchange = {
      ...exchange(1, null),
      operationId: 'createOrder',
      backend: 'legacy',
      request: { method: 'POST', path: '/orders', query: {}, headers: { 'idempotency-key': 'key-12345678' }, body: { customerId: 1, lines: [{ sku: 'HW-1042', quantity: 1 }] } },
      response: { status: 201, headers: {}, body: { orderId: 'O-1', status: 'accepted' } },
    };
    const items = [{ exchange: post, file: 'x.jsonl', line: 1 }];
    posts = 0;
    let run = await replay(items, [], opts());
    expect(run.results[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/not a safe method; pass --unsafe/) });
    expect(posts).toBe(0);
    expect(exitCodeOf(run)).toBe(0);
    run = await replay(items, [], opts({ unsafe: true }));
    expect(posts).toBe(1);
    expect(run.results[0].outcome).toBe('pass');
  });

  it('with a baseline, ignores what differs between two answers of the recorded backend, and nothing else', async () => {
    volatile = true;
    const dir = writeRecording([10, 11, 12].map((id) => formatExchange(exchange(id, customer(id)))));
    const { items } = await readRecordings([dir], contract);
    const without = await replay(items, [], opts());
    expect(without.results.every((r) => r.outcome === 'fail' && r.differences.some((d) => d.path === '$.updatedAt'))).toBe(true);
    flipVip = new Set([11]);
    const run = await replay(items, [], opts({ baselineTarget: target }));
    expect(run.noise).toEqual({ getCustomer: ['$.updatedAt'] });
    expect(run.results.map((r) => r.outcome)).toEqual(['pass', 'fail', 'pass']);
    expect(run.results[1].differences.map((d) => d.path)).toEqual(['$.vip']);
    expect(summaryText(run)).toContain('getCustomer: $.updatedAt');
  });

  it('keeps to its concurrency and rate limits', async () => {
    const dir = writeRecording(Array.from({ length: 12 }, (_, i) => formatExchange(exchange(100 + i, customer(100 + i)))));
    const { items } = await readRecordings([dir], contract);
    maxInFlight = 0;
    await replay(items, [], opts({ concurrency: 3 }));
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
    const t = performance.now();
    const run = await replay(items, [], opts({ concurrency: 6, ratePerSecond: 40 }));
    expect(performance.now() - t).toBeGreaterThanOrEqual(11 * 25 - 5);
    expect(run.byOperation.getCustomer.pass).toBe(12);
  });

  it('ignores the request id of problem answers, and the paths the route ignores', async () => {
    const missing: RecordedExchange = {
      ...exchange(1, null),
      request: { method: 'GET', path: '/customers/x', query: {}, headers: {}, body: null },
      response: { status: 404, headers: {}, body: { type: 'about:blank', title: 'Not found', status: 404 } },
    };
    flipVip = new Set([5]);
    const items = [
      { exchange: missing, file: 'a.jsonl', line: 1 },
      { exchange: exchange(5, customer(5)), file: 'a.jsonl', line: 2 },
    ];
    const run = await replay(items, [], opts({ ignoreByOperation: { getCustomer: ['$.vip'] } }));
    expect(run.results.map((r) => r.outcome)).toEqual(['pass', 'pass']);
  });

  it('writes a JUnit XML report and a self-contained HTML report with side-by-side diffs', async () => {
    const dir = writeRecording([formatExchange(exchange(20, customer(20))), formatExchange(exchange(21, customer(21, { name: '<script>alert(1)</script>' }))), 'garbage']);
    flipVip = new Set([20]);
    const { items, bad } = await readRecordings([dir], contract);
    const run = await replay(items, bad, opts());
    const xml = junitXml(run);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toMatch(/<testsuites [^>]*tests="3" failures="2" errors="1"/);
    expect(xml).toMatch(/<testsuite name="replay.getCustomer" tests="2" failures="2"/);
    expect(xml).toContain('$.vip: recorded false, replayed true');
    expect(xml).toContain('&lt;script&gt;');
    expect(xml).not.toContain('<script>');
    expect(xml).toMatch(/<testcase classname="replay.recordings" name="[^"]*getCustomer.jsonl:3">\s*<error message="not valid JSON/);
    const html = htmlReport(run);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(html).toContain('<h4>recorded</h4>');
    expect(html).toContain('<h4>replayed</h4>');
    expect(html).toMatch(/<mark><span class="v">false<\/span><\/mark>/);
    expect(html).toMatch(/<mark><span class="v">true<\/span><\/mark>/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('counts a backend that does not answer as an error, not a pass', async () => {
    const dead = new UrlTarget('http://127.0.0.1:9', 2);
    try {
      const run = await replay([{ exchange: exchange(1, customer(1)), file: 'a.jsonl', line: 1 }], [], opts({ target: dead }));
      expect(run.results[0]).toMatchObject({ outcome: 'error', reason: expect.stringMatching(/^no answer: /) });
      expect(exitCodeOf(run)).toBe(1);
    } finally {
      await dead.close();
    }
  });
});
