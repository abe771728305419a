import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Comparator, noisyPaths } from '../../src/compare/comparator.ts';
import { generalisePath, IgnoreSet, parsePath, PathSyntaxError } from '../../src/compare/json-path.ts';
import { Contract } from '../../src/contract/contract.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const comparator = new Comparator(contract);

/** A small contract with the extensions the project contract does not (yet) use. */
const extensions = new Contract({
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: {
    '/things': {
      get: {
        operationId: 'listThings',
        responses: {
          '200': {
            description: 'ok',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    tags: { type: 'array', 'x-ficus-unordered': true, items: { type: 'string' } },
                    things: {
                      type: 'array',
                      'x-ficus-unordered': true,
                      items: { allOf: [{ $ref: '#/components/schemas/Thing' }] },
                    },
                    generatedAt: { type: 'string', format: 'date-time', 'x-ficus-ignore': true },
                    total: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  components: {
    schemas: {
      Thing: { type: 'object', properties: { id: { type: 'integer' }, seenAt: { type: 'string', format: 'date-time' }, price: { type: 'number' } } },
    },
  },
});
const extComparator = new Comparator(extensions);

function customer(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 1001,
    name: 'Harbour Street Hardware',
    email: 'accounts@harbour-hardware.example',
    status: 'active',
    vip: false,
    creditLimit: 2500,
    createdOn: '1998-03-14',
    updatedAt: '2024-05-02T09:15:00Z',
    address: { lines: ['12 Harbour Street'], city: 'Bristol', postalCode: 'BS1 4RB', country: 'GB' },
    ...over,
  };
}

const ok = (body: unknown) => ({ status: 200, body });

describe('the comparator', () => {
  it('finds two identical answers equal', () => {
    expect(comparator.compare('getCustomer', ok(customer()), ok(customer()))).toEqual({ equal: true, differences: [] });
  });

  it('reports a changed field with its path and both values', () => {
    const r = comparator.compare(
      'listCustomers',
      ok({ items: [customer(), customer({ id: 1002 }), customer({ id: 1003 })], nextCursor: null }),
      ok({ items: [customer(), customer({ id: 1002 }), customer({ id: 1003, vip: true })], nextCursor: null }),
    );
    expect(r.equal).toBe(false);
    expect(r.differences).toEqual([{ path: '$.items[2].vip', legacy: false, modern: true, kind: 'changed' }]);
  });

  it('compares date-times as instants, whatever the zone or precision', () => {
    const r = comparator.compare('getCustomer', ok(customer({ updatedAt: '2024-05-02 10:15:00.000+01:00' })), ok(customer({ updatedAt: '2024-05-02T09:15:00Z' })));
    expect(r.differences).toEqual([]);
    const later = comparator.compare('getCustomer', ok(customer({ updatedAt: '2024-05-02T09:15:01Z' })), ok(customer()));
    expect(later.differences.map((d) => d.path)).toEqual(['$.updatedAt']);
  });

  it('normalises dates written the legacy way', () => {
    expect(comparator.compare('getCustomer', ok(customer({ createdOn: '19980314' })), ok(customer())).equal).toBe(true);
    expect(comparator.compare('getCustomer', ok(customer({ createdOn: '1998-03-14T00:00:00Z' })), ok(customer())).equal).toBe(true);
    expect(comparator.compare('getCustomer', ok(customer({ createdOn: '1998-03-15' })), ok(customer())).differences[0]).toMatchObject({
      path: '$.createdOn',
      legacy: '1998-03-15',
      modern: '1998-03-14',
    });
  });

  it('compares numbers as numbers however they are written', () => {
    expect(comparator.compare('getCustomer', ok(customer({ creditLimit: '2500.00' })), ok(customer({ creditLimit: 2500 }))).equal).toBe(true);
    expect(comparator.compare('getCustomer', ok(customer({ creditLimit: ' 002500.0 ' })), ok(customer({ creditLimit: 2.5e3 }))).equal).toBe(true);
    expect(comparator.compare('getCustomer', ok(customer({ creditLimit: '2500.01' })), ok(customer({ creditLimit: 2500 }))).differences).toEqual([
      { path: '$.creditLimit', legacy: '2500.01', modern: 2500, kind: 'changed' },
    ]);
  });

  it('ignores the padding and whitespace runs of legacy strings, but not real text changes', () => {
    const padded = customer({ name: 'Harbour Street   Hardware      ', address: { lines: ['12 Harbour Street   '], city: ' Bristol', postalCode: 'BS1 4RB', country: 'GB' } });
    expect(comparator.compare('getCustomer', ok(padded), ok(customer())).equal).toBe(true);
    expect(comparator.compare('getCustomer', ok(customer({ name: 'Harbour St Hardware' })), ok(customer())).equal).toBe(false);
  });

  it('does not care about key order', () => {
    const reversed = Object.fromEntries(Object.entries(customer()).reverse());
    expect(comparator.compare('getCustomer', ok(reversed), ok(customer())).equal).toBe(true);
  });

  it('compares the status first, and only the status when it differs', () => {
    const r = comparator.compare('getCustomer', { status: 404, body: { title: 'Not found', status: 404 } }, ok(customer()));
    expect(r.differences).toEqual([{ path: 'status', legacy: 404, modern: 200, kind: 'changed' }]);
  });

  it('reports missing, extra and type differences', () => {
    const { email: _e, ...noEmail } = customer();
    const r = comparator.compare('getCustomer', ok(customer()), ok({ ...noEmail, vip: 'no', nickname: 'HSH' }));
    expect(r.differences).toEqual([
      { path: '$.email', legacy: 'accounts@harbour-hardware.example', modern: undefined, kind: 'missing' },
      { path: '$.nickname', legacy: undefined, modern: 'HSH', kind: 'extra' },
      { path: '$.vip', legacy: false, modern: 'no', kind: 'type' },
    ]);
    const list = comparator.compare('listCustomers', ok({ items: [customer(), customer({ id: 2 })], nextCursor: null }), ok({ items: [customer()], nextCursor: null }));
    expect(list.differences).toMatchObject([{ path: '$.items[1]', kind: 'missing' }]);
  });

  it('skips properties the contract marks x-ficus-ignore (each backend writes its own cursor)', () => {
    expect(comparator.compare('listCustomers', ok({ items: [], nextCursor: 'abc' }), ok({ items: [], nextCursor: 'xyz' })).equal).toBe(true);
    expect(extComparator.compare('listThings', ok({ generatedAt: '2024-01-01T00:00:00Z' }), ok({ generatedAt: '2025-01-01T00:00:00Z' })).equal).toBe(true);
  });

  it('compares arrays marked x-ficus-unordered as sets, with normalisation inside the elements', () => {
    const legacy = {
      tags: ['b', 'a ', 'a'],
      things: [
        { id: 1, price: '9.50', seenAt: '2024-01-01 00:00:00' },
        { id: 2, price: 3 },
      ],
    };
    const modern = {
      tags: ['a', 'b', 'a'],
      things: [
        { price: 3, id: 2 },
        { id: 1, price: 9.5, seenAt: '2024-01-01T00:00:00.000Z' },
      ],
    };
    expect(extComparator.compare('listThings', ok(legacy), ok(modern))).toEqual({ equal: true, differences: [] });
    const r = extComparator.compare('listThings', ok({ tags: ['a', 'a', 'b'] }), ok({ tags: ['a', 'b', 'c'] }));
    expect(r.differences).toEqual([
      { path: '$.tags[1]', legacy: 'a', modern: undefined, kind: 'missing' },
      { path: '$.tags[2]', legacy: undefined, modern: 'c', kind: 'extra' },
    ]);
  });

  it('treats ordinary arrays as ordered', () => {
    const r = comparator.compare(
      'listCustomers',
      ok({ items: [customer({ id: 1 }), customer({ id: 2 })], nextCursor: null }),
      ok({ items: [customer({ id: 2 }), customer({ id: 1 })], nextCursor: null }),
    );
    expect(r.differences.map((d) => d.path)).toEqual(['$.items[0].id', '$.items[1].id']);
  });

  it('applies ignore rules with [*] wildcards and whole subtrees, inside sets too', () => {
    const a = ok({ items: [customer({ updatedAt: '2024-01-01T00:00:00Z' }), customer({ id: 2, vip: true })], nextCursor: null });
    const b = ok({ items: [customer({ updatedAt: '2025-01-01T00:00:00Z' }), customer({ id: 2, vip: false })], nextCursor: null });
    expect(comparator.compare('listCustomers', a, b, { ignore: ['$.items[*].updatedAt'] }).differences.map((d) => d.path)).toEqual(['$.items[1].vip']);
    expect(comparator.compare('listCustomers', a, b, { ignore: ['$.items[*].updatedAt', '$.items[1]'] }).equal).toBe(true);
    expect(comparator.compare('listCustomers', a, b, { ignore: ['$.items'] }).equal).toBe(true);
    expect(comparator.compare('getCustomer', { status: 500, body: {} }, ok(customer()), { ignore: ['status'] }).equal).toBe(true);
    const sets = extComparator.compare('listThings', ok({ things: [{ id: 1, seenAt: '2024-01-01T00:00:00Z' }] }), ok({ things: [{ id: 1, seenAt: '2030-01-01T00:00:00Z' }] }), {
      ignore: ['$.things[*].seenAt'],
    });
    expect(sets.equal).toBe(true);
  });

  it('rejects an unreadable ignore rule with a message naming it', () => {
    expect(() => comparator.compare('getCustomer', ok(1), ok(1), { ignore: ['items[*].x'] })).toThrow(/items\[\*\]\.x.*must start with \$/);
    expect(() => parsePath('$.items[x]')).toThrow(PathSyntaxError);
  });

  it('compares answers of operations the contract does not know, without a schema', () => {
    const r = comparator.compare('noSuchOperation', ok({ n: '42', s: ' x ', deep: [{ a: 1 }] }), ok({ n: 42, s: 'x', deep: [{ a: 2 }] }));
    expect(r.differences).toEqual([{ path: '$.deep[0].a', legacy: 1, modern: 2, kind: 'changed' }]);
  });

  it('writes odd keys in bracket notation that parses back', () => {
    const r = comparator.compare('noSuchOperation', ok({ 'a b': 1 }), ok({ 'a b': 2 }));
    expect(r.differences[0].path).toBe("$['a b']");
    expect(new IgnoreSet([r.differences[0].path]).matches("$['a b']")).toBe(true);
    expect(generalisePath('$.items[12].lines[0]')).toBe('$.items[*].lines[*]');
  });
});

describe('noise', () => {
  it('lists the paths that differ between two answers of the same backend', () => {
    const first = ok({ items: [customer({ updatedAt: '2024-01-01T00:00:00Z' })], nextCursor: 'a' });
    const second = ok({ items: [customer({ updatedAt: '2024-01-01T00:00:05Z' })], nextCursor: 'b' });
    expect(noisyPaths(comparator, 'listCustomers', first, second)).toEqual(['$.items[0].updatedAt']);
    expect(noisyPaths(comparator, 'listCustomers', first, first)).toEqual([]);
  });

  it('makes a later comparison blind to exactly those paths', () => {
    const first = ok(customer({ updatedAt: '2024-01-01T00:00:00Z' }));
    const second = ok(customer({ updatedAt: '2024-01-01T00:00:07Z' }));
    const noise = noisyPaths(comparator, 'getCustomer', first, second);
    const modern = ok(customer({ updatedAt: '2026-01-01T00:00:00Z', vip: true }));
    expect(comparator.compare('getCustomer', first, modern, { ignore: noise }).differences.map((d) => d.path)).toEqual(['$.vip']);
  });
});

describe('speed', () => {
  it('compares a page of 100 customers in well under a millisecond on average', () => {
    const page = (vip: boolean) => ok({ items: Array.from({ length: 100 }, (_, i) => customer({ id: i, vip: i === 50 ? vip : false })), nextCursor: null });
    const a = page(false);
    const b = page(true);
    for (let i = 0; i < 50; i++) comparator.compare('listCustomers', a, b);
    const n = 500;
    // CPU time of this process, not wall time: other processes on a busy machine do not count against it.
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) comparator.compare('listCustomers', a, b, { ignore: ['$.items[*].updatedAt'] });
    const used = process.cpuUsage(t);
    const perCall = (used.user + used.system) / 1000 / n;
    expect(comparator.compare('listCustomers', a, b).differences).toHaveLength(1);
    expect(perCall).toBeLessThan(5);
  });
});
