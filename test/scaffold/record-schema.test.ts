/**
 * The JSON Schema `ficus scaffold copybook` writes for a record: names, numbers with their
 * precision, level-88 enums, OCCURS (fixed and DEPENDING ON), REDEFINES under a when rule; each
 * checked against what the record codec really decodes, with ajv as the gateway runs it. And the
 * contract edit that keeps what the file held.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCopybook } from '../../src/records/copybook.ts';
import { loadRecordFileSpec } from '../../src/records/layout-file.ts';
import { compileRecord } from '../../src/records/record-codec.ts';
import { parseWhen, scaffoldLayout } from '../../src/scaffold/copybook-layout.ts';
import { ScaffoldError } from '../../src/scaffold/scaffold-error.ts';
import { addSchemas, readContract, writeContract } from '../../src/scaffold/contract-schemas.ts';
import { scaffoldCopybook } from '../../src/scaffold/copybook-scaffold.ts';
import { recordSchema, schemaName, type JsonSchema } from '../../src/scaffold/record-schema.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, validateFormats: true }));

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cpy = (...lines: string[]) => lines.map((l) => `       ${l}`).join('\n') + '\n';

function schemaOf(text: string): { schema: JsonSchema; roundTrip: (value: Record<string, unknown>) => Record<string, unknown> } {
  const [layout] = parseCopybook(text, 't.cpy');
  const codec = compileRecord(layout, 'cp037');
  return { schema: recordSchema(layout, { openapi31: true }, 't.cpy'), roundTrip: (v) => codec.decode(codec.encode(v).bytes) };
}

describe('the scaffolded record schema', () => {
  it('names: schemas in PascalCase, properties in the codec’s camelCase, FILLER left out; numbers required, text optional (blank text is left out of answers)', () => {
    expect(schemaName('PRODUCT-RECORD')).toBe('ProductRecord');
    expect(schemaName('orderHeader')).toBe('OrderHeader');
    const { schema } = schemaOf(cpy('01  CUST-REC.', '    05  CUST-NO          PIC 9(8).', '    05  FILLER           PIC X(4).', '    05  CUST-NAME-LINE-1 PIC X(30).'));
    expect(schema).toMatchObject({ type: 'object', additionalProperties: false, required: ['custNo'] });
    expect(Object.keys(schema.properties as object)).toEqual(['custNo', 'custNameLine1']);
  });

  it('numbers: integers and decimals with the range of their digits, long ones as exact decimal strings; decoded values validate, values past the digits do not', () => {
    const { schema, roundTrip } = schemaOf(
      cpy(
        '01  AMOUNTS.',
        '    05  QTY     PIC 9(5).',
        '    05  DELTA   PIC S9(4) COMP.',
        '    05  PRICE   PIC S9(7)V99 COMP-3.',
        '    05  RATE    PIC V999.',
        '    05  TOTAL   PIC S9(16)V99 COMP-3.',
        '    05  NATIVE  PIC 9(4) COMP-5.',
      ),
    );
    const p = schema.properties as Record<string, JsonSchema>;
    expect(p.qty).toMatchObject({ type: 'integer', minimum: 0, maximum: 99999 });
    expect(p.delta).toMatchObject({ type: 'integer', minimum: -9999, maximum: 9999 });
    expect(p.price).toMatchObject({ type: 'number', minimum: -9999999.99, maximum: 9999999.99, description: 'PRICE PIC S9(7)V99 COMP-3, 2 decimals' });
    expect(p.rate).toMatchObject({ type: 'number', minimum: 0, maximum: 0.999 });
    expect(p.total).toMatchObject({ type: 'string', pattern: '^-?[0-9]{1,16}(\\.[0-9]{2})?$' });
    expect(p.native).toMatchObject({ type: 'integer', minimum: 0, maximum: 65535 });
    const validate = ajv.compile(schema);
    for (const v of [
      { qty: 0, delta: -9999, price: 0.07, rate: 0.001, total: '-1234567890123456.78', native: 65535 },
      { qty: 99999, delta: 12, price: -9999999.99, rate: 0.999, total: '0.00', native: 0 },
    ]) {
      const decoded = roundTrip(v);
      expect(validate(decoded), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(validate({ qty: 100000, delta: 1, price: 1, rate: 0.5, total: '1.00', native: 1 })).toBe(false);
    expect(validate({ qty: 1, delta: 1, price: 1.5, rate: 0.5, total: '1.5', native: 1 })).toBe(false);
  });

  it('level 88: an enum of the condition names; a value no condition names is refused', () => {
    const { schema, roundTrip } = schemaOf(cpy('01  ACCT.', '    05  ACCT-STATUS  PIC X.', '        88  OPEN-ACCT    VALUE "O".', '        88  CLOSED-ACCT  VALUE "C" "X".'));
    const status = (schema.properties as Record<string, JsonSchema>).acctStatus;
    expect(status).toMatchObject({ type: 'string', enum: ['open-acct', 'closed-acct'] });
    expect(status.description).toBe('ACCT-STATUS PIC X; level 88: open-acct = "O", closed-acct = "C" | "X"');
    const validate = ajv.compile(schema);
    expect(roundTrip({ acctStatus: 'closed-acct' })).toEqual({ acctStatus: 'closed-acct' });
    expect(validate(roundTrip({ acctStatus: 'closed-acct' }))).toBe(true);
    expect(roundTrip({ acctStatus: 'Z' })).toEqual({ acctStatus: 'Z' });
    expect(validate(roundTrip({ acctStatus: 'Z' }))).toBe(false);
  });

  it('dates (from the layout): format date, nullable the way the contract’s OpenAPI version writes it; zeros decode to null and validate', () => {
    const [layout] = parseCopybook(cpy('01  EVENT.', '    05  EV-DATE  PIC 9(8).'), 't.cpy');
    (layout.items[0] as { date?: unknown }).date = { format: 'YYYYMMDD', pivot: 50 };
    const v31 = recordSchema(layout, { openapi31: true }, 't.cpy');
    const v30 = recordSchema(layout, { openapi31: false }, 't.cpy');
    expect((v31.properties as Record<string, JsonSchema>).evDate).toMatchObject({ type: ['string', 'null'], format: 'date' });
    expect((v30.properties as Record<string, JsonSchema>).evDate).toMatchObject({ type: 'string', nullable: true, format: 'date' });
    const codec = compileRecord(layout, 'cp037');
    const validate = ajv.compile(v31);
    for (const v of ['2026-11-27', null]) expect(validate(codec.decode(codec.encode({ evDate: v }).bytes))).toBe(true);
    expect(validate({ evDate: '2026-02-30' })).toBe(false);
  });

  it('OCCURS: fixed tables have exactly their size, DEPENDING ON tables from their minimum to their maximum', () => {
    const text = cpy(
      '01  ORDER-REC.',
      '    05  PHONES      PIC X(10) OCCURS 2 TIMES.',
      '    05  LINE-COUNT  PIC 99.',
      '    05  ORDER-LINE  OCCURS 1 TO 5 TIMES DEPENDING ON LINE-COUNT.',
      '        10  SKU     PIC X(7).',
      '        10  QTY     PIC 9(3) COMP-3.',
    );
    const { schema, roundTrip } = schemaOf(text);
    const p = schema.properties as Record<string, JsonSchema>;
    expect(p.phones).toMatchObject({ type: 'array', minItems: 2, maxItems: 2, items: { type: 'string', maxLength: 10 } });
    expect(p.orderLine).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: 5,
      items: { type: 'object', additionalProperties: false, required: ['qty'] },
      description: 'ORDER-LINE; OCCURS 1 TO 5 TIMES DEPENDING ON LINE-COUNT',
    });
    const validate = ajv.compile(schema);
    const decoded = roundTrip({
      phones: ['555', '556'],
      lineCount: 2,
      orderLine: [
        { sku: 'AB-0001', qty: 3 },
        { sku: 'AB-0002', qty: 999 },
      ],
    });
    expect((decoded.orderLine as unknown[]).length).toBe(2);
    expect(validate(decoded), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...decoded, orderLine: [] })).toBe(false);
    expect(validate({ ...decoded, phones: ['1'] })).toBe(false);
  });

  describe('REDEFINES', () => {
    const text = cpy(
      '01  PAYMENT.',
      '    05  PAY-KIND      PIC X.',
      '    05  PAY-CARD      PIC X(16).',
      '    05  PAY-BANK REDEFINES PAY-CARD.',
      '        10  PAY-IBAN  PIC X(12).',
      '        10  PAY-BIC   PIC X(4).',
    );

    function scaffold(when: string[]) {
      const root = mkdtempSync(join(tmpdir(), 'ficus-scaffold-redefines-'));
      dirs.push(root);
      writeFileSync(join(root, 'openapi.yaml'), 'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n');
      writeFileSync(join(root, 'payment.cpy'), text);
      const r = scaffoldCopybook({ copybook: 'payment.cpy', project: root, cwd: root, when: when.map(parseWhen) });
      const codec = loadRecordFileSpec(r.layoutFile).types[0].codec;
      return { schema: r.schemas[0].schema, layout: readFileSync(r.layoutFile, 'utf8'), roundTrip: (v: Record<string, unknown>) => codec.decode(codec.encode(v).bytes) };
    }

    it('with a when rule: a oneOf of the original and the alternative, each under its values', () => {
      const { schema, layout, roundTrip } = scaffold(['PAY-BANK:PAY-KIND=B']);
      expect(layout).toContain('PAY-BANK: { when: { field: payKind, equals: ["B"] } }');
      expect(schema.required).toEqual([]);
      expect(schema.oneOf).toEqual([
        { required: ['payCard'], properties: { payKind: { not: { enum: ['B'] } } } },
        { required: ['payBank'], properties: { payKind: { enum: ['B'] } } },
      ]);
      const validate = ajv.compile(schema);
      const bank = roundTrip({ payKind: 'B', payBank: { payIban: 'DE0012345678', payBic: 'COBA' } });
      expect(bank).toEqual({ payKind: 'B', payBank: { payIban: 'DE0012345678', payBic: 'COBA' } });
      expect(validate(bank), JSON.stringify(validate.errors)).toBe(true);
      const card = roundTrip({ payKind: 'C', payCard: '4111111111111111' });
      expect(card).toEqual({ payKind: 'C', payCard: '4111111111111111' });
      expect(validate(card)).toBe(true);
      expect(validate({ payKind: 'B', payCard: '4111111111111111' })).toBe(false);
      expect(validate({ payKind: 'C', payBank: { payIban: 'x', payBic: 'y' } })).toBe(false);
    });

    it('without one: the alternative is not decoded, so not in the schema; a when rule on an item that redefines nothing is refused', () => {
      const { schema, roundTrip } = scaffold([]);
      expect(schema.required).toEqual([]);
      expect(Object.keys(schema.properties as object)).toEqual(['payKind', 'payCard']);
      expect(ajv.compile(schema)(roundTrip({ payKind: 'C', payCard: '4111' }))).toBe(true);
      expect(() => scaffold(['PAY-CARD:PAY-KIND=B'])).toThrow(ScaffoldError);
      expect(() => parseWhen('PAY-BANK=B')).toThrow(/ITEM:FIELD=value/);
    });
  });

  it('a copybook of several records with no record-type field in common: says to pick one with --record', () => {
    const text = cpy('01  A-REC.', '    05  A-NO  PIC 9(4).', '01  B-REC.', '    05  B-NAME  PIC X(8).');
    expect(() => scaffoldLayout(text, { copybook: 'ab.cpy', name: 'ab' })).toThrow(/no record-type field they all start with/);
    const one = scaffoldLayout(text, { copybook: 'ab.cpy', name: 'ab', record: 'B-REC' });
    expect(one.text).toContain('record: bRec');
    expect(() => scaffoldLayout(text, { copybook: 'ab.cpy', name: 'ab', record: 'C-REC' })).toThrow(/no 01 level C-REC/);
  });
});

describe('the contract edit', () => {
  it('adds schemas to the sample contract and leaves the rest of the file as it was, comments and flow maps included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-scaffold-contract-'));
    dirs.push(dir);
    const file = join(dir, 'openapi.yaml');
    cpSync(join(PROJECT_ROOT, 'openapi.yaml'), file);
    const before = readFileSync(file, 'utf8');
    const contract = readContract(file);
    addSchemas(contract, [{ name: 'ProductRecord', schema: { type: 'object', required: ['prSku'], properties: { prSku: { type: 'string', maxLength: 7 } } } }], false);
    writeContract(file, contract);
    const after = readFileSync(file, 'utf8');
    expect(after.startsWith(before.trimEnd())).toBe(true);
    expect(after.slice(before.trimEnd().length)).toBe('\n    ProductRecord:\n      type: object\n      required: [prSku]\n      properties:\n        prSku: { type: string, maxLength: 7 }\n');
    const parsed = parse(after) as { components: { schemas: Record<string, unknown> } };
    expect(parsed.components.schemas.Product).toEqual((parse(before) as { components: { schemas: Record<string, unknown> } }).components.schemas.Product);
    expect(() => addSchemas(readContract(file), [{ name: 'ProductRecord', schema: {} }], false)).toThrow(/already has components.schemas.ProductRecord/);
  });
});
