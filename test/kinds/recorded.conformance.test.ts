/**
 * The recorded kind runs the conformance suite against recordings of the shared things (written in
 * the recording format, as `ficus record` would): it has no network, so the cases about connections
 * are skipped; a recordings folder that is not there is its backend being down.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FORMAT_VERSION, formatExchange, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { THINGS, kindConformance, type AdapterPlan } from './conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'ficus-recorded-conformance-'));

function exchange(operationId: string, i: number, method: string, path: string, body: unknown, status: number, answer: unknown, query: Record<string, unknown> = {}): RecordedExchange {
  return {
    v: FORMAT_VERSION,
    operationId,
    time: new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString(),
    count: 1,
    backend: 'legacy',
    adapter: 'things',
    latencyMs: 1,
    gateway: 'test',
    key: '',
    request: { method, path, query, headers: {}, body },
    response: { status, headers: {}, body: answer },
    redacted: [],
    findings: [],
  };
}

const plan = (dir: string): AdapterPlan => ({
  connection: { dir },
  bindings: { getThing: {}, listThings: {}, createThing: {} },
  dir: root,
  root,
});

kindConformance({
  kind: 'recorded',
  before() {
    const write = (op: string, lines: RecordedExchange[]) => {
      mkdirSync(join(root, 'recordings', op), { recursive: true });
      writeFileSync(join(root, 'recordings', op, '20261101T000000Z-1-0001.jsonl'), lines.map((l) => formatExchange(l) + '\n').join(''));
    };
    write(
      'getThing',
      THINGS.map((t, i) => exchange('getThing', i, 'GET', `/things/${t.id}`, null, 200, { ...t })),
    );
    write('listThings', [exchange('listThings', 10, 'GET', '/things', null, 200, { items: THINGS.map((t) => ({ ...t })), nextCursor: null }, { limit: 20 })]);
    write('createThing', [exchange('createThing', 11, 'POST', '/things', { name: 'four' }, 201, { id: 4, name: 'four' })]);
    return Promise.resolve();
  },
  after() {
    rmSync(root, { recursive: true, force: true });
    return Promise.resolve();
  },
  live: () => plan('recordings'),
  down: () => plan('no-recordings-here'),
  badBinding: { operation: 'getThing', binding: { dir: 'no-such-folder' }, subKey: 'dir' },
  supports: { getThing: true, listThings: true, createThing: true },
  skip: {
    'credentials refused': 'recordings need no credentials',
    'aborted call': "no network: an answer comes from memory (a recorded latency waits on the call's signal, tested in test/kinds/recorded-kind.test.ts)",
    'writes not retried': "no network: nothing is sent anywhere (the kind's default policy retries nothing)",
  },
});
