import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { parseExchangeLine, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { Recorder } from '../../src/recording/recorder.ts';
import { Redactor } from '../../src/recording/redactor.ts';
import { SegmentFiles } from '../../src/recording/segment-files.ts';
import { Route } from '../../src/routing/route-table.ts';
import { memoryLogger, PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const route = new Route(contract.operation('getCustomer'), undefined, undefined, { mode: 'modern', percent: 0 });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ficus-rec-'));
  dirs.push(d);
  return d;
}

function call(id: number): OperationRequest {
  return {
    operationId: 'getCustomer',
    method: 'GET',
    pathParams: { customerId: id },
    query: {},
    headers: { authorization: 'Bearer secret-secret' },
    body: undefined,
    requestId: `r${id}`,
    signal: new AbortController().signal,
  };
}

function answer(id: number) {
  return {
    result: {
      status: 200,
      body: {
        id,
        name: `Customer ${id}`,
        email: `c${id}@example.com`,
        status: 'active',
        vip: false,
        creditLimit: 10,
        createdOn: '2000-01-01',
        updatedAt: '2024-01-01T00:00:00Z',
        address: { lines: ['1 Road'], city: 'Leeds', postalCode: 'LS1', country: 'GB' },
      },
    },
    dispatched: undefined,
    durationMs: 1.5,
  };
}

function readAll(dir: string): { file: string; lines: RecordedExchange[] }[] {
  const opDir = join(dir, 'getCustomer');
  return readdirSync(opDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => ({
      file: f,
      lines: readFileSync(join(opDir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const p = parseExchangeLine(l);
          if (!p.ok) throw new Error(p.reason);
          return p.exchange;
        }),
    }));
}

function recorder(dir: string, opts: { queueLimit?: number; random?: () => number; now?: () => number; files?: SegmentFiles } = {}) {
  const { logger, lines } = memoryLogger('warn');
  const files = opts.files ?? new SegmentFiles({ dir, maxFileBytes: 10 * 1024 * 1024, rollEveryMs: 3_600_000, now: opts.now });
  const r = new Recorder({ contract, redactor: new Redactor({ contract, key: 'k' }), files, logger, queueLimit: opts.queueLimit ?? 1000, random: opts.random, now: opts.now });
  return { r, hook: r.hook(), logLines: lines };
}

describe('the recorder', () => {
  it('records nothing until a route is switched on', async () => {
    const dir = tmp();
    const { r, hook } = recorder(dir);
    hook.after?.(route, call(1), answer(1));
    await r.flush();
    expect(r.status().recorded).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes one redacted, versioned line per exchange, with backend, latency and gateway version', async () => {
    const dir = tmp();
    const { r, hook } = recorder(dir);
    r.start('getCustomer', 1);
    hook.after?.(route, call(1001), answer(1001));
    await r.close();
    const [{ lines }] = readAll(dir);
    expect(lines).toHaveLength(1);
    const e = lines[0];
    expect(e).toMatchObject({
      v: 1,
      operationId: 'getCustomer',
      count: 1,
      backend: 'modern',
      latencyMs: 1.5,
      request: { method: 'GET', path: '/customers/1001', headers: {} },
      response: { status: 200 },
    });
    expect(e.gateway).toMatch(/^\d+\.\d+\.\d+/);
    expect((e.response.body as { email: string }).email).toMatch(/^redacted:/);
    expect(readFileSync(join(dir, 'getCustomer', readAll(dir)[0].file), 'utf8')).not.toMatch(/secret-secret|c1001@example/);
  });

  it('collapses identical requests into one line with a count', async () => {
    const dir = tmp();
    const { r, hook } = recorder(dir);
    r.start('getCustomer', 1);
    for (const id of [1, 2, 1, 1, 3, 2]) hook.after?.(route, call(id), answer(id));
    await r.flush();
    const [{ lines }] = readAll(dir);
    expect(lines.map((l) => [l.request.path, l.count])).toEqual([
      ['/customers/1', 3],
      ['/customers/2', 2],
      ['/customers/3', 1],
    ]);
    expect(r.status().routes[0]).toMatchObject({ recorded: 6, collapsed: 3 });
  });

  it('loses no line and no count when counts are written while exchanges keep coming', async () => {
    const dir = tmp();
    const { r, hook } = recorder(dir);
    r.start('getCustomer', 1);
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) {
      hook.after?.(route, call(1 + (i % 50)), answer(1 + (i % 50)));
      if (i % 37 === 0) flushes.push(r.flush());
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(flushes);
    await r.flush();
    const lines = readAll(dir).flatMap((f) => f.lines);
    expect(lines).toHaveLength(50);
    expect(lines.every((l) => l.count === 8)).toBe(true);
  });

  it('hashes a path parameter the contract marks sensitive, in the recorded path too', async () => {
    const dir = tmp();
    const c = new Contract({
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/people/{email}': {
          get: {
            operationId: 'getPerson',
            parameters: [{ name: 'email', in: 'path', required: true, schema: { type: 'string', 'x-ficus-sensitive': true } }],
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    });
    const files = new SegmentFiles({ dir, maxFileBytes: 1e6, rollEveryMs: 3_600_000 });
    const r = new Recorder({ contract: c, redactor: new Redactor({ contract: c, key: 'k' }), files, logger: memoryLogger('silent').logger, queueLimit: 10 });
    r.start('getPerson', 1);
    const people = new Route(c.operation('getPerson'), undefined, undefined, { mode: 'legacy', percent: 0 });
    r.hook().after?.(people, { ...call(1), operationId: 'getPerson', pathParams: { email: 'ann@example.com' } }, { result: { status: 200, body: { ok: true } }, dispatched: undefined, durationMs: 1 });
    await r.close();
    const text = readdirSync(join(dir, 'getPerson'))
      .map((f) => readFileSync(join(dir, 'getPerson', f), 'utf8'))
      .join('');
    expect(text).not.toContain('ann@example');
    const line = parseExchangeLine(text.trim());
    expect(line.ok && line.exchange.request.path).toMatch(/^\/people\/redacted%3A/);
    expect(line.ok && line.exchange.redacted).toContain('$.request.path.email');
  });

  it('records the sampled share of calls', async () => {
    const dir = tmp();
    let n = 0;
    const { r, hook } = recorder(dir, { random: () => (n++ % 10) / 10 });
    r.start('getCustomer', 0.3);
    for (let i = 0; i < 100; i++) hook.after?.(route, call(i + 1), answer(i + 1));
    await r.flush();
    expect(r.status().recorded).toBe(30);
  });

  it('stops by itself when its time is up', async () => {
    const dir = tmp();
    let now = 1_000_000;
    const { r, hook } = recorder(dir, { now: () => now });
    r.start('getCustomer', 1, 60_000);
    hook.after?.(route, call(1), answer(1));
    now += 61_000;
    hook.after?.(route, call(2), answer(2));
    await r.flush();
    expect(r.status().recorded).toBe(1);
    expect(r.isRecording('getCustomer')).toBe(false);
  });

  it('refuses a duration that ends past any real time, and stays off', () => {
    const { r } = recorder(tmp());
    expect(() => r.start('getCustomer', 1, 1e20)).toThrow(/for must be/);
    expect(() => r.start('getCustomer', 1, Number.NaN)).toThrow(/for must be/);
    expect(r.isRecording('getCustomer')).toBe(false);
    expect(r.status().routes).toEqual([]);
  });

  it('rolls files by size and by age', async () => {
    const dir = tmp();
    let now = Date.UTC(2026, 0, 1);
    const files = new SegmentFiles({ dir, maxFileBytes: 1500, rollEveryMs: 60_000, now: () => now });
    const { r, hook } = recorder(dir, { files, now: () => now });
    r.start('getCustomer', 1);
    for (let i = 1; i <= 6; i++) hook.after?.(route, call(i), answer(i));
    await r.flush();
    const bySize = readAll(dir);
    expect(bySize.length).toBeGreaterThanOrEqual(3);
    for (const f of bySize) expect(readFileSync(join(dir, 'getCustomer', f.file)).length).toBeLessThanOrEqual(1500);
    expect(bySize.flatMap((f) => f.lines).map((l) => l.request.path)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `/customers/${i}`));
    now += 120_000;
    hook.after?.(route, call(7), answer(7));
    await r.close();
    const after = readAll(dir);
    expect(after).toHaveLength(bySize.length + 1);
    expect(after[after.length - 1].lines.map((l) => l.request.path)).toEqual(['/customers/7']);
  });

  it('never blocks the caller on a slow disk: it drops past its queue and counts the drops', async () => {
    const dir = tmp();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    class SlowFiles extends SegmentFiles {
      override async append(batch: readonly RecordedExchange[]) {
        await gate;
        return super.append(batch);
      }
    }
    const { r, hook } = recorder(dir, { queueLimit: 10, files: new SlowFiles({ dir, maxFileBytes: 1e7, rollEveryMs: 3_600_000 }) });
    r.start('getCustomer', 1);
    hook.after?.(route, call(0), answer(0));
    await new Promise((resolve) => setImmediate(resolve)); // the writer takes the first one and waits on the disk
    // The disk stays stuck until release() below: every call returned, and was queued or dropped, without it.
    for (let i = 1; i <= 50; i++) expect(hook.after?.(route, call(i), answer(i))).toBeUndefined();
    expect(r.status()).toMatchObject({ queued: 10, dropped: 40 });
    release();
    await r.flush();
    expect(r.status()).toMatchObject({ recorded: 11, dropped: 40, queued: 0 });
  });

  it('reports secrets found in unmarked fields once per place, without their values', async () => {
    const dir = tmp();
    const { r, hook, logLines } = recorder(dir);
    r.start('getCustomer', 1);
    for (let i = 1; i <= 3; i++) {
      const a = answer(i);
      (a.result.body as { name: string }).name = `pay 4111 1111 1111 1111 #${i}`;
      hook.after?.(route, call(i), a);
    }
    await r.flush();
    expect(r.status().findings).toEqual([{ operationId: 'getCustomer', path: '$.response.body.name', kind: 'card-number', count: 3 }]);
    const warnings = logLines.filter((l) => String(l.msg).includes('card-number'));
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0].msg)).toMatch(/x-ficus-sensitive|recording\.redact/);
    expect(JSON.stringify(logLines)).not.toContain('4111');
  });
});
