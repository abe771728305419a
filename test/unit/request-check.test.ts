import { describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { OperationRouter } from '../../src/http/operation-router.ts';
import { OperationRequestCheck, bodyMediaOf, requestAjvs } from '../../src/http/request-validator.ts';
import { Problem } from '../../src/problem.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(`${PROJECT_ROOT}openapi.yaml`);
const { coercing, strict } = requestAjvs();
const checks = new Map(contract.all().map((op) => [op.operationId, new OperationRequestCheck(op, contract, coercing, strict)]));
const router = new OperationRouter<string>();
for (const op of contract.all()) router.add(op, op.operationId);

function problemOf(fn: () => unknown): Problem {
  try {
    fn();
  } catch (err) {
    if (err instanceof Problem) return err;
    throw err;
  }
  throw new Error('expected a problem');
}

describe('finding the operation of a request', () => {
  it('matches path templates and decodes their parameters', () => {
    expect(router.match('GET', '/customers/1042')).toMatchObject({ kind: 'found', target: 'getCustomer', pathParams: { customerId: '1042' } });
    expect(router.match('GET', '/products/AB%2F12')).toMatchObject({ kind: 'found', target: 'getProduct', pathParams: { sku: 'AB/12' } });
    expect(router.match('GET', '/accounts/A000123/invoices')).toMatchObject({ kind: 'found', target: 'listAccountInvoices' });
  });

  it('prefers a literal segment to a parameter in the same place', () => {
    expect(router.match('POST', '/orders/batch')).toMatchObject({ kind: 'found', target: 'createOrderBatch' });
    expect(router.match('GET', '/orders/ORD-1')).toMatchObject({ kind: 'found', target: 'getOrder', pathParams: { orderId: 'ORD-1' } });
  });

  it('tells a wrong method (with the allowed ones) from an unknown path', () => {
    expect(router.match('DELETE', '/customers/12')).toEqual({ kind: 'method-not-allowed', allow: ['GET'] });
    expect(router.match('HEAD', '/customers/12')).toMatchObject({ kind: 'found', target: 'getCustomer' });
    expect(router.match('HEAD', '/orders')).toEqual({ kind: 'method-not-allowed', allow: ['POST'] });
    expect(router.match('GET', '/no/such/route')).toEqual({ kind: 'none' });
    // A trailing slash is served as the path without it (docs/openapi-contracts.md), never as an empty parameter.
    expect(router.match('GET', '/customers/')).toMatchObject({ kind: 'found', target: 'listCustomers' });
    expect(router.match('GET', '/customers/1/extra')).toEqual({ kind: 'none' });
  });

  it('refuses a path parameter that is not valid percent-encoding', () => {
    expect(router.match('GET', '/products/%E0%A4%A')).toMatchObject({ kind: 'bad-path' });
  });
});

describe('checking a request against its operation', () => {
  it('coerces parameters to their declared types and fills in defaults', () => {
    const list = checks.get('listCustomers')!;
    expect(list.check({}, 'updatedSince=2024-01-01T00:00:00Z', {}, undefined, 'none')).toEqual({
      pathParams: {},
      query: { limit: 20, updatedSince: '2024-01-01T00:00:00Z' },
    });
    expect(checks.get('getCustomer')!.check({ customerId: '1042' }, '', {}, undefined, 'none').pathParams).toEqual({ customerId: 1042 });
  });

  it('names every offending parameter, and refuses query parameters the contract does not declare', () => {
    const p = problemOf(() => checks.get('listCustomers')!.check({}, 'limit=500&color=blue&limit=3', {}, undefined, 'none'));
    expect(p.status).toBe(400);
    const fields = p.errors?.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['query.limit', 'query.color']));
    expect(p.errors?.find((e) => e.field === 'query.color')?.message).toMatch(/not a query parameter of listCustomers/);
    expect(problemOf(() => checks.get('getCustomer')!.check({ customerId: 'abc' }, '', {}, undefined, 'none')).errors).toEqual([{ field: 'path.customerId', message: 'must be integer' }]);
  });

  it('refuses a query parameter named __proto__ instead of letting it change the query object', () => {
    const p = problemOf(() => checks.get('listCustomers')!.check({}, '__proto__=1&__proto__=2&limit=5', {}, undefined, 'none'));
    expect(p.errors).toContainEqual(expect.objectContaining({ field: 'query.__proto__' }));
  });

  it('checks declared headers by their lower-case names', () => {
    const create = checks.get('createOrder')!;
    const p = problemOf(() => create.check({}, '', { 'idempotency-key': 'short' }, {}, 'json'));
    expect(p.errors?.map((e) => e.field)).toContain('headers.idempotency-key');
  });

  it('requires a body where the contract does, and reports each field of a bad one without coercing JSON types', () => {
    const create = checks.get('createOrder')!;
    const headers = { 'idempotency-key': 'key-0123456789' };
    expect(problemOf(() => create.check({}, '', headers, undefined, 'none')).errors).toContainEqual({ field: 'body', message: 'a JSON body is required' });
    const p = problemOf(() => create.check({}, '', headers, { customerId: '1001', lines: [{ sku: 7 }] }, 'json'));
    expect(p.errors?.map((e) => e.field)).toEqual(expect.arrayContaining(['body.customerId', 'body.lines[0].sku']));
  });

  it('tells JSON bodies from others by their media type', () => {
    expect(bodyMediaOf('application/json; charset=utf-8', true)).toBe('json');
    expect(bodyMediaOf('application/merge-patch+json', true)).toBe('json');
    expect(bodyMediaOf('text/plain', true)).toBe('other');
    expect(bodyMediaOf(undefined, true)).toBe('other');
    expect(bodyMediaOf('application/json', false)).toBe('none');
  });
});
