/** `recording.routes.<op>.when`: only the calls that meet every condition are recorded. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { recordingConfigSchema } from '../../src/recording/recording-config.ts';
import { Recorder } from '../../src/recording/recorder.ts';
import { Redactor } from '../../src/recording/redactor.ts';
import { SegmentFiles } from '../../src/recording/segment-files.ts';
import { Route } from '../../src/routing/route-table.ts';
import { memoryLogger, PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const route = new Route(contract.operation('getCustomer'), undefined, undefined, { mode: 'modern', percent: 0 });
const dir = mkdtempSync(join(tmpdir(), 'ficus-rec-when-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const call = (id: number, consumer?: string, headers: Record<string, string> = {}): OperationRequest => ({
  operationId: 'getCustomer',
  method: 'GET',
  pathParams: { customerId: id },
  query: {},
  headers,
  body: undefined,
  requestId: `r${id}`,
  consumer,
  signal: new AbortController().signal,
});
const answer = (status: number) => ({ result: { status, body: status === 200 ? { id: 1 } : { type: 'x', title: 'x', status } }, dispatched: undefined, durationMs: 1 });

describe('recording filters', () => {
  it('records only calls that match the path pattern, consumer, status and header', async () => {
    const config = recordingConfigSchema.parse({
      routes: { getCustomer: { when: { path: '/customers/1*', consumer: ['mobile-app'], status: [200, '5xx'], header: { 'x-tenant': 'acme' } } } },
    });
    const files = new SegmentFiles({ dir, maxFileBytes: 10_000_000, rollEveryMs: 3_600_000 });
    const r = new Recorder({ contract, redactor: new Redactor({ contract, key: 'k' }), files, logger: memoryLogger('warn').logger, queueLimit: 100, initial: config.routes });
    const hook = r.hook();
    const tenant = { 'x-tenant': 'acme' };
    hook.after?.(route, call(1001, 'mobile-app', tenant), answer(200)); // kept
    hook.after?.(route, call(1002, 'mobile-app', tenant), answer(503)); // kept: 5xx
    hook.after?.(route, call(2001, 'mobile-app', tenant), answer(200)); // path
    hook.after?.(route, call(1003, 'web', tenant), answer(200)); // consumer
    hook.after?.(route, call(1004, undefined, tenant), answer(200)); // no consumer known
    hook.after?.(route, call(1005, 'mobile-app', tenant), answer(404)); // status
    hook.after?.(route, call(1006, 'mobile-app', { 'x-tenant': 'other' }), answer(200)); // header
    await r.close();
    const text = readdirSync(join(dir, 'getCustomer'))
      .map((f) => readFileSync(join(dir, 'getCustomer', f), 'utf8'))
      .join('');
    const paths = text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { request: { path: string } }).request.path);
    expect(paths).toEqual(['/customers/1001', '/customers/1002']);
  });

  it('a bad condition is a config error naming the key', () => {
    const r = recordingConfigSchema.safeParse({ routes: { getCustomer: { when: { status: ['4x'], path: 'customers' } } } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['routes.getCustomer.when.path', 'routes.getCustomer.when.status.0']);
  });
});
