/**
 * The scaffolded schema of the sample's CUSTMAST against the hand-written contract's Customer
 * (openapi.yaml), field for field: the differences are exactly the ones docs/scaffolds.md lists.
 * And the scaffold adds to a contract someone keeps by hand without changing a line of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { seedSqlite } from '../../sample/legacy-crm/seed.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { fieldName, resourceName } from '../../src/scaffold/db-names.ts';
import { ficus, initProjectDir, tempDir } from './scaffold-support.ts';

type Schema = Record<string, any>;

/** The schema with local $refs resolved, descriptions and examples left out, enums and required as sorted sets. */
function normalise(schema: Schema, doc: Schema): Schema {
  if (schema.$ref)
    return normalise(
      schema.$ref
        .slice(2)
        .split('/')
        .reduce((n: Schema, k: string) => n[k], doc),
      doc,
    );
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'description' || k === 'example') continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, normalise(s as Schema, doc)]));
    else if (k === 'items') out[k] = normalise(v as Schema, doc);
    else if ((k === 'enum' || k === 'required') && Array.isArray(v)) out[k] = [...v].sort();
    else out[k] = v;
  }
  return out;
}

/** Every place where two schemas differ: `field.keyword: hand-written → scaffolded`. */
function differences(a: Schema, b: Schema, at = ''): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const here = at === '' ? k : `${at}.${k}`;
    if (k === 'properties') {
      for (const p of new Set([...Object.keys(a.properties ?? {}), ...Object.keys(b.properties ?? {})])) {
        const path = at === '' ? p : `${at}.${p}`;
        if (!a.properties?.[p]) out.push(`${path}: only scaffolded`);
        else if (!b.properties?.[p]) out.push(`${path}: only hand-written`);
        else out.push(...differences(a.properties[p], b.properties[p], path));
      }
    } else if (k === 'items' && a.items && b.items) out.push(...differences(a.items, b.items, `${at}[]`));
    else if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`${here}: ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`);
  }
  return out;
}

describe("the scaffolded CUSTMAST and the hand-written contract's Customer", () => {
  const dir = tempDir();
  const file = join(dir.dir, 'crm.sqlite');
  const handWritten = parseYaml(readFileSync(join(PROJECT_ROOT, 'openapi.yaml'), 'utf8')) as Schema;
  const expected = normalise(handWritten.components.schemas.Customer, handWritten);
  beforeAll(() => seedSqlite(file));
  afterAll(() => dir.remove());

  async function scaffolded(extra: string[]): Promise<Schema> {
    const project = await initProjectDir();
    try {
      const r = await ficus(['scaffold', 'db', '--project', project.root, '--adapter', 'crm-db', '--driver', 'sqlite', '--file', file, '--table', 'CUSTMAST', ...extra]);
      expect(r.stderr).toBe('');
      const doc = parseYaml(readFileSync(join(project.root, 'openapi.yaml'), 'utf8')) as Schema;
      return normalise(doc.components.schemas.Customer, doc);
    } finally {
      project.remove();
    }
  }

  it('match field for field, except the differences docs/scaffolds.md lists', async () => {
    const diff = differences(expected, await scaffolded([]));
    expect(diff).toEqual(['creditLimit.type: "number" → "integer"']);
    const doc = readFileSync(join(PROJECT_ROOT, 'docs/scaffolds.md'), 'utf8');
    const start = doc.indexOf('## ficus scaffold db');
    const end = doc.indexOf('\n## ', start + 5);
    const section = doc.slice(start, end < 0 ? undefined : end);
    expect(start).toBeGreaterThanOrEqual(0);
    for (const field of ['creditLimit', 'address', 'status', 'description']) expect(section).toContain(field);
  });

  it('match exactly when the implied decimals of CR_LMT are given (--scale CR_LMT=2)', async () => {
    expect(differences(expected, await scaffolded(['--scale', 'CR_LMT=2']))).toEqual([]);
  });

  it('adds to a hand-kept contract without changing a line of it (comments, quoting, flow style)', async () => {
    const t = tempDir();
    try {
      copyFileSync(join(PROJECT_ROOT, 'openapi.yaml'), join(t.dir, 'openapi.yaml'));
      const before = readFileSync(join(t.dir, 'openapi.yaml'), 'utf8');
      const r = await ficus(['scaffold', 'db', '--project', t.dir, '--adapter', 'crm-copy', '--driver', 'sqlite', '--file', file, '--table', 'CUSTMAST', '--resource', 'LegacyCustomer']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const after = readFileSync(join(t.dir, 'openapi.yaml'), 'utf8');
      // Every line of the file is still there, in its order; the new ones are in between.
      const lines = after.split('\n');
      let i = 0;
      for (const line of before.split('\n')) {
        while (i < lines.length && lines[i] !== line) i++;
        expect(i, `line kept: ${line}`).toBeLessThan(lines.length);
        i++;
      }
      const doc = parseYaml(after) as Schema;
      expect(normalise(doc.components.schemas.Customer, doc)).toEqual(expected);
      expect(Object.keys(doc.components.schemas.LegacyCustomer.properties)).toContain('creditLimit');
      expect(doc.paths['/legacy-customers/{legacyCustomerId}'].get.operationId).toBe('getLegacyCustomer');
      // A second run refuses: nothing is replaced.
      const again = await ficus(['scaffold', 'db', '--project', t.dir, '--adapter', 'crm-copy', '--table', 'CUSTMAST', '--resource', 'LegacyCustomer']);
      expect(again.code).toBe(2); // a mistake of the input or the project, as for the other scaffolds
      expect(again.stderr).toContain('the project has already: components.schemas.LegacyCustomer');
      expect(readFileSync(join(t.dir, 'openapi.yaml'), 'utf8')).toBe(after);
    } finally {
      t.remove();
    }
  });
});

describe('names from legacy names', () => {
  it('expands the usual abbreviations, drops the table prefix and names dates, instants, flags and codes', () => {
    expect(resourceName('CUSTMAST')).toBe('Customer');
    expect(resourceName('ORDER_LINES')).toBe('OrderLine');
    expect(fieldName('CUST_NM', 'plain', 'CUST')).toBe('name');
    expect(fieldName('CR_LMT', 'plain', 'CUST')).toBe('creditLimit');
    expect(fieldName('CRT_DT', 'date', 'CUST')).toBe('createdOn');
    expect(fieldName('DUE_DT', 'date', 'INV')).toBe('dueDate');
    expect(fieldName('LAST_UPD', 'instant', 'CUST')).toBe('updatedAt');
    expect(fieldName('VIP_FLG', 'flag', 'CUST')).toBe('vip');
    expect(fieldName('STAT_CD', 'code', 'CUST')).toBe('status');
    expect(fieldName('EMAIL_ADDR', 'plain', 'CUST')).toBe('email');
    expect(fieldName('post_cd', 'plain', 'cust')).toBe('postalCode');
  });
});
