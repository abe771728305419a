/**
 * Recordings in and out of the formats other tools speak: HAR 1.2 (browser devtools, proxies,
 * Postman) and GoReplay. Import redacts as recording does and lists what matches no operation; the
 * export is valid HAR 1.2 (checked by har-validator) and imports back to the same recording.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { har as validateHar } from 'har-validator';
import type { Har } from 'har-format';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/record-interchange.ts';
import { Contract } from '../../src/contract/contract.ts';
import { parseExchangeLine, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { exportRecordings, importRecordings, importSummary, selectExchanges } from '../../src/recording/interchange.ts';
import { readRecordings } from '../../src/replay/recording-reader.ts';
import { loadReplayProject } from '../../src/replay/replay-project.ts';
import { ficus } from '../fixtures/ficus-cli.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const RECORDINGS = join(PROJECT_ROOT, 'recordings');
const work = mkdtempSync(join(tmpdir(), 'ficus-har-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
/** The sample recordings were made with the development key. */
const env = {};

async function recordingOf(dir: string): Promise<RecordedExchange[]> {
  const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
  return (await readRecordings([dir], contract)).items.map((i) => i.exchange);
}

/** The part of an exchange an import can know (HAR carries no backend or adapter). */
const comparable = (e: RecordedExchange) => ({ operationId: e.operationId, time: e.time, count: e.count, request: e.request, response: e.response, redacted: [...e.redacted].sort() });
const byKey = (a: { operationId: string; request: { path: string; query: unknown } }, b: typeof a) =>
  (a.operationId + a.request.path + JSON.stringify(a.request.query)).localeCompare(b.operationId + b.request.path + JSON.stringify(b.request.query));

function browserHar(entries: { method?: string; url: string; reqHeaders?: Record<string, string>; status?: number; body?: unknown; mime?: string; postData?: unknown }[]): Har {
  return {
    log: {
      version: '1.2',
      creator: { name: 'WebInspector', version: '537.36' },
      entries: entries.map((e, i) => ({
        startedDateTime: new Date(Date.UTC(2026, 10, 1, 10, 0, i)).toISOString(),
        time: 12.5,
        request: {
          method: e.method ?? 'GET',
          url: e.url,
          httpVersion: 'http/2.0',
          headers: Object.entries({ ':authority': 'api.example.com', accept: 'application/json', ...(e.reqHeaders ?? {}) }).map(([name, value]) => ({ name, value })),
          queryString: [],
          cookies: [{ name: 'session', value: 's3cr3t-session' }],
          headersSize: -1,
          bodySize: 0,
          ...(e.postData === undefined ? {} : { postData: { mimeType: 'application/json', text: JSON.stringify(e.postData) } }),
        },
        response: {
          status: e.status ?? 200,
          statusText: '',
          httpVersion: 'http/2.0',
          headers: [
            { name: 'content-type', value: e.mime ?? 'application/json' },
            { name: 'date', value: 'Sun, 01 Nov 2026 10:00:00 GMT' },
            { name: 'set-cookie', value: 'session=abc; HttpOnly' },
          ],
          cookies: [],
          content: { size: 0, mimeType: e.mime ?? 'application/json', text: JSON.stringify(e.body ?? {}) },
          redirectURL: '',
          headersSize: -1,
          bodySize: -1,
        },
        cache: {},
        timings: { send: 0.1, wait: 11.9, receive: 0.5 },
      })),
    },
  };
}

describe('ficus record export', () => {
  it('writes the sample recording as HAR 1.2 that validates, one entry per recording line', async () => {
    const { text, count } = await exportRecordings({ format: 'har', root: PROJECT_ROOT, env });
    const har = JSON.parse(text) as Har;
    await expect(validateHar(har)).resolves.toBeTruthy();
    const lineCount = readFileSync(join(RECORDINGS, 'getCustomer', '20261125T112115Z-13098-0001.jsonl'), 'utf8')
      .trim()
      .split('\n').length;
    expect(count).toBe((await recordingOf(RECORDINGS)).length);
    expect(har.log.entries.filter((e) => /\/customers\/\d+$/.test(e.request.url))).toHaveLength(lineCount);
    const one = har.log.entries.find((e) => e.request.url === 'http://localhost/customers/1154');
    expect(one?.response.status).toBe(200);
    expect(JSON.parse(one?.response.content.text ?? '{}')).toMatchObject({ id: 1154, email: expect.stringMatching(/^redacted:/) as unknown });
    // In time order, as a browser writes them.
    const times = har.log.entries.map((e) => e.startedDateTime);
    expect(times).toEqual([...times].sort());
  });

  it('filters by operation and by time, and writes JSON Lines too', async () => {
    const all = await selectExchanges({ root: PROJECT_ROOT, env });
    const { text, count } = await exportRecordings({ format: 'jsonl', root: PROJECT_ROOT, env, operations: ['getProduct', 'getAccount'] });
    expect(count).toBe(all.exchanges.filter((e) => e.operationId === 'getProduct' || e.operationId === 'getAccount').length);
    const parsed = text
      .trim()
      .split('\n')
      .map((l) => parseExchangeLine(l));
    expect(parsed.every((p) => p.ok && (p.exchange.operationId === 'getProduct' || p.exchange.operationId === 'getAccount'))).toBe(true);
    const cut = all.exchanges[40].time;
    const since = await exportRecordings({ format: 'jsonl', root: PROJECT_ROOT, env, since: Date.parse(cut) });
    expect(since.count).toBe(all.exchanges.filter((e) => e.time >= cut).length);
    expect(since.count).toBeLessThan(all.exchanges.length);
    expect(parseSince('1h', 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(parseSince('2026-11-25T11:21:16Z')).toBe(Date.parse('2026-11-25T11:21:16Z'));
  });
});

describe('ficus record import', () => {
  it('imports an export back to the same recording (redacted values stay as they are)', async () => {
    const file = join(work, 'sample.har');
    writeFileSync(file, (await exportRecordings({ format: 'har', root: PROJECT_ROOT, env })).text);
    const out = join(work, 'roundtrip');
    const report = await importRecordings({ paths: [file], root: PROJECT_ROOT, env, out });
    expect(report.unmatched).toEqual([]);
    expect(report.bad).toEqual([]);
    const original = (await recordingOf(RECORDINGS)).map(comparable).sort(byKey);
    const imported = (await recordingOf(out)).map(comparable).sort(byKey);
    expect(imported).toEqual(original);
  });

  it('redacts a browser HAR as recording does, types the query, and lists what matches no operation', async () => {
    const file = join(work, 'browser.har');
    const har = browserHar([
      {
        url: 'https://api.example.com/customers/1001',
        reqHeaders: { authorization: 'Bearer abcdefghijklmnopqrstuvwxyz', cookie: 'session=s3cr3t', 'x-api-key': 'k-123' },
        body: { id: 1001, name: 'Acme', email: 'jane@example.com', notes: 'call jane.doe@example.org' },
      },
      { url: 'https://api.example.com/customers?limit=5&status=active', body: { items: [], nextCursor: null } },
      { url: 'https://api.example.com/favicon.ico', mime: 'image/x-icon', body: '' },
      { url: 'https://api.example.com/favicon.ico', mime: 'image/x-icon', body: '' },
      { method: 'DELETE', url: 'https://api.example.com/customers/1001', status: 204 },
    ]);
    writeFileSync(file, JSON.stringify(har));
    const out = join(work, 'browser');
    const report = await importRecordings({ paths: [file], root: PROJECT_ROOT, env, out });
    expect(report.imported).toBe(2);
    expect(report.unmatched.map((u) => `${u.method} ${u.path}`)).toEqual(['GET /favicon.ico', 'GET /favicon.ico', 'DELETE /customers/1001']);
    const summary = importSummary(report);
    expect(summary).toContain('3 exchanges matched no operation of the contract');
    expect(summary).toContain('GET /favicon.ico  2×');

    const text = readFileSync(join(out, 'getCustomer', readdirSync(join(out, 'getCustomer'))[0]), 'utf8');
    expect(text).not.toMatch(/s3cr3t|Bearer|k-123|jane@example\.com|jane\.doe@example\.org|set-cookie/);
    const [customer] = await recordingOf(join(out, 'getCustomer'));
    expect(customer.request.headers).toEqual({ accept: 'application/json' });
    expect(customer.response.headers).toEqual({ 'content-type': 'application/json' });
    expect(customer.response.body).toMatchObject({ id: 1001, email: expect.stringMatching(/^redacted:/) as unknown, notes: expect.stringMatching(/^redacted:/) as unknown });
    expect(customer.redacted).toContain('$.response.body.email');
    expect(customer.findings).toEqual([{ path: '$.response.body.notes', kind: 'email' }]);
    expect(customer.latencyMs).toBe(11.9);
    const [list] = await recordingOf(join(out, 'listCustomers'));
    expect(list.request.query).toEqual({ limit: 5, status: 'active' });
  });

  it('imports GoReplay files, pairing each request with its original response', async () => {
    const sep = '\n🐵🙈🙉\n';
    const gor = [
      '1 a1 1764000000000000000\nGET /customers/1002 HTTP/1.1\r\nHost: legacy\r\nAuthorization: Basic dXNlcjpwYXNz\r\nAccept: application/json\r\n\r\n',
      '2 a1 1764000000020000000 20000000\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n17\r\n{"id":1002,"name":"B"}\r\n0\r\n\r\n',
      '1 b2 1764000001000000000\nGET /nothing-here HTTP/1.1\r\nHost: legacy\r\n\r\n',
      '2 b2 1764000001010000000 10000000\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
      '1 c3 1764000002000000000\nGET /customers/1003 HTTP/1.1\r\nHost: legacy\r\n\r\n',
    ].join(sep);
    const file = join(work, 'traffic.gor');
    writeFileSync(file, gor);
    const out = join(work, 'gor');
    const report = await importRecordings({ paths: [work + '/traffic.gor'], root: PROJECT_ROOT, env, out });
    expect(report.imported).toBe(1);
    expect(report.unmatched).toEqual([{ source: `${file}#2`, method: 'GET', path: '/nothing-here' }]);
    expect(report.bad).toEqual([{ source: `${file}#4`, reason: 'request c3 (GET /customers/1003): no original response in the file' }]);
    const [e] = await recordingOf(out);
    expect(e).toMatchObject({
      operationId: 'getCustomer',
      latencyMs: 20,
      request: { path: '/customers/1002', headers: { accept: 'application/json' } },
      response: { status: 200, body: { id: 1002, name: 'B' } },
    });
    expect(e.time).toBe(new Date(1764000000000).toISOString());
  });

  it('the CLI imports a folder, exits 3 when some exchanges matched nothing, and exports HAR to stdout', async () => {
    const dir = join(work, 'cli-in');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.har'), JSON.stringify(browserHar([{ url: 'http://x/products/HW-1', body: {} }, { url: 'http://x/nope' }])));
    const out = join(work, 'cli-out');
    const imp = await ficus('record', 'import', dir, '--root', PROJECT_ROOT, '--out', out);
    expect(imp.stdout).toContain('imported 1 exchanges from 1 file(s)');
    expect(imp.stdout).toContain('GET /nope  1×');
    expect(imp.code).toBe(3);
    const exp = await ficus('record', 'export', out, '--format', 'har', '--root', PROJECT_ROOT);
    expect(exp.code).toBe(0);
    await expect(validateHar(JSON.parse(exp.stdout))).resolves.toBeTruthy();
    expect((JSON.parse(exp.stdout) as Har).log.entries.map((e) => e.request.url)).toEqual(['http://localhost/products/HW-1']);
    const bad = await ficus('record', 'export', '--format', 'xml', '--root', PROJECT_ROOT);
    expect(bad.code).toBe(2);
  });

  it('replay reads a HAR file directly, with the project redaction', async () => {
    const file = join(work, 'replay.har');
    writeFileSync(file, (await exportRecordings({ format: 'har', root: PROJECT_ROOT, env, operations: ['getProduct'] })).text);
    const project = loadReplayProject({ root: PROJECT_ROOT, env });
    const r = await readRecordings([file], project.contract, project.redactor);
    expect(r.bad).toEqual([]);
    expect(r.items.map((i) => i.exchange.operationId)).toEqual(['getProduct', 'getProduct', 'getProduct']);
  });
});
