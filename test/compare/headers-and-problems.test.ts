/**
 * The comparator's response headers (`compare.headers`, `compare.ignoreHeaders`) and its rule for
 * problem answers: compared by status, type and the fields the contract declares, never by their text.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Comparator } from '../../src/compare/comparator.ts';
import { Contract } from '../../src/contract/contract.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const c = new Comparator(contract);
const customer = { id: 1001, name: 'Acme' };

describe('response headers', () => {
  const a = { status: 200, body: customer, headers: { 'Content-Type': 'application/json; charset=utf-8', etag: '"v1"', date: 'Mon', 'x-data-as-of': '1' } };
  const b = { status: 200, body: customer, headers: { 'content-type': 'application/json', ETag: '"v2"', date: 'Tue', 'x-data-as-of': '2' } };

  it('are not compared unless named', () => {
    expect(c.compare('getCustomer', a, b).equal).toBe(true);
  });

  it('named ones are compared (a media type without its parameters), with ignore rules', () => {
    expect(c.compare('getCustomer', a, b, { headers: ['content-type', 'etag'] }).differences).toEqual([{ path: 'headers.etag', legacy: '"v1"', modern: '"v2"', kind: 'changed' }]);
    expect(c.compare('getCustomer', a, b, { headers: ['content-type', 'etag'], ignoreHeaders: ['etag'] }).equal).toBe(true);
    expect(c.compare('getCustomer', a, { ...b, headers: { 'content-type': 'text/plain' } }, { headers: ['content-type'] }).differences[0]).toMatchObject({
      path: 'headers.content-type',
      kind: 'changed',
    });
    expect(c.compare('getCustomer', a, { ...b, headers: {} }, { headers: ['etag'] }).differences).toEqual([{ path: 'headers.etag', legacy: '"v1"', modern: undefined, kind: 'missing' }]);
  });

  it('* compares every header but those of one transfer (date, content-length, ...) and the ignored ones', () => {
    const d = c.compare('getCustomer', a, b, { headers: ['*'], ignoreHeaders: ['x-data-as-of'] }).differences.map((x) => x.path);
    expect(d).toEqual(['headers.etag']);
  });
});

describe('problem answers', () => {
  const problem = (over: Record<string, unknown> = {}) => ({
    type: 'https://ficus.dev/problems/not-found',
    title: 'Not found',
    status: 404,
    detail: 'no customer 42',
    instance: '/customers/42',
    requestId: 'r-1',
    ...over,
  });

  it('differing only in their text and their call (title, detail, instance, requestId) are equal', () => {
    const r = c.compare(
      'getCustomer',
      { status: 404, body: problem() },
      { status: 404, body: problem({ title: 'Missing', detail: 'customer 42 does not exist', instance: '/x', requestId: 'r-2', vendorTrace: 'abc' }) },
    );
    expect(r).toEqual({ equal: true, differences: [] });
  });

  it('differ by type and by the fields the contract declares (errors)', () => {
    const r = c.compare(
      'getCustomer',
      { status: 404, body: problem({ errors: [{ field: 'path.customerId', message: 'a' }] }) },
      { status: 404, body: problem({ type: 'https://ficus.dev/problems/route-not-found', errors: [{ field: 'path.id', message: 'a' }] }) },
    );
    expect(r.differences.map((d) => d.path)).toEqual(['$.errors[0].field', '$.type']);
  });
});
