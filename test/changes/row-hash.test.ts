/**
 * The row hash is stored (`changes_rows.hash`) and part of every event id: written without building
 * the canonical JSON string, it must stay sha256(canonicalJson(row)), so hashes an older version
 * stored still compare equal (a change would resend every row at the next sweep, with new ids).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/changes/cloud-event.ts';
import { canonicalJson } from '../../src/writes/canonical-json.ts';

const before = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('base64url').slice(0, 32);

const customer = {
  id: 100_001,
  name: 'Ada Lovelace',
  email: null,
  status: 'active',
  vip: true,
  creditLimit: 2500.5,
  createdOn: '1998-03-14',
  updatedAt: '2024-05-02T09:15:00Z',
  address: { lines: ['12 Main Street', 'Unit 4'], city: 'Springfield', postalCode: '12345', country: 'US' },
};

describe('hashOf', () => {
  it('is the hash an older version stored for a customer row', () => {
    expect(hashOf(customer)).toBe(before(customer));
    // Pinned: what the version before this one (canonicalJson + createHash) computed for this row.
    expect(hashOf(customer)).toBe('gtsW773GV_zA8lAexExH_UM0-X_6P51e');
  });

  it('is sha256(canonicalJson) for any JSON-like value, whatever the key order', () => {
    const nullProto = Object.assign(Object.create(null) as object, { b: 1, a: [true, false] });
    const values: unknown[] = [
      null,
      undefined,
      0,
      -0,
      1e21,
      1.5e-7,
      NaN,
      -Infinity,
      '',
      'plain',
      'quote " backslash \\ tab \t nul \u0000 unit \u001f del \u007f',
      'é ü 中文 😀 \u2028 \u2029',
      'lone \ud800 high, lone \udc00 low, pair \ud83d\ude00',
      'x'.repeat(63) + 'é',
      'é'.repeat(5000),
      'a'.repeat(200_000),
      [],
      {},
      [undefined, null, 1, 'a', [[]], {}],
      { z: 1, a: 2, m: { y: undefined, b: [3, { d: 4, c: 5 }] } },
      { 10: 'ten', 2: 'two', b: 'b', B: 'B', é: 'e', '': 'empty', 'a"b': 'q' },
      nullProto,
      { nested: { deeper: { deepest: Array.from({ length: 300 }, (_, i) => ({ [`k${300 - i}`]: i, i })) } } },
      customer,
      { ...customer, address: { country: 'US', postalCode: '12345', city: 'Springfield', lines: ['12 Main Street', 'Unit 4'] } },
      // Not plain JSON data: hashed the old way, whole.
      { at: new Date(0) },
      [1, , 3], // eslint-disable-line no-sparse-arrays
      { f: () => 1, s: 'x' },
      [Symbol('s')],
      new (class Point {
        x = 1;
        y = 2;
      })(),
    ];
    for (const v of values) expect(hashOf(v), canonicalJson(v)).toBe(before(v));
    // The same content in another key order hashes the same.
    expect(hashOf({ b: 1, a: 2 })).toBe(hashOf({ a: 2, b: 1 }));
  });

  it('fails as before on what canonical JSON cannot write', () => {
    expect(() => before({ n: 1n })).toThrow(TypeError);
    expect(() => hashOf({ n: 1n })).toThrow(TypeError);
  });

  it('is not confused by a hash taken inside another (a getter)', () => {
    const inner = { a: 1 };
    const outer = {
      get x() {
        return hashOf(inner);
      },
    };
    expect(hashOf(outer)).toBe(before(outer));
  });
});
