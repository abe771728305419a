/**
 * `ficus scaffold copybook` on every copybook of the sample (adapters/mainframe-files/layouts/*.cpy),
 * each into a new project: the layout it writes loads; a file GnuCOBOL writes with the copybook
 * decodes with that layout without a fault; every record decoded validates against the JSON Schema
 * written into the contract; and `ficus check` passes on the project.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Gateway } from '../../src/gateway.ts';
import { parseCopybookDetailed } from '../../src/records/copybook.ts';
import { loadRecordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile } from '../../src/records/record-file.ts';
import { scaffoldCopybook } from '../../src/scaffold/copybook-scaffold.ts';
import { hasCobc, writeWithCobol, type CobolRecordPlan } from '../helpers/cobol-writer.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
if (!hasCobc) console.warn('copybook-sample.test.ts: the GnuCOBOL part is skipped: cobc is not installed (apt-get install gnucobol3)');

const SAMPLE_LAYOUTS = join(PROJECT_ROOT, 'adapters', 'mainframe-files', 'layouts');
const COPYBOOKS = readdirSync(SAMPLE_LAYOUTS)
  .filter((f) => f.endsWith('.cpy'))
  .sort();
const DETAILS = 60;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A new project: a contract with no operations yet (and a comment that must survive), ficus.yaml, the copybook in layouts/. */
function newProject(copybook: string): string {
  const root = mkdtempSync(join(tmpdir(), 'ficus-scaffold-copybook-'));
  dirs.push(root);
  writeFileSync(
    join(root, 'openapi.yaml'),
    ['openapi: 3.1.0', 'info:', '  title: A new team’s contract', '  version: 0.1.0', '# Operations come later; the scaffolds add schemas first.', 'paths: {}', ''].join('\n'),
  );
  writeFileSync(join(root, 'ficus.yaml'), 'state: { driver: sqlite, file: ":memory:" }\n');
  mkdirSync(join(root, 'layouts'));
  copyFileSync(join(SAMPLE_LAYOUTS, copybook), join(root, 'layouts', copybook));
  return root;
}

describe('ficus scaffold copybook, on every copybook of the sample', () => {
  it('finds the sample copybooks', () => {
    expect(COPYBOOKS).toEqual(['orders.cpy', 'products.cpy', 'replies.cpy']);
  });

  for (const file of COPYBOOKS) {
    it.skipIf(!hasCobc)(
      `${file}: the layout loads, GnuCOBOL's records decode with it, every record validates against the scaffolded schema, ficus check passes`,
      async () => {
        const root = newProject(file);
        const result = scaffoldCopybook({ copybook: `layouts/${file}`, project: root, cwd: root });
        expect(result.layoutFile).toBe(join(root, 'layouts', file.replace('.cpy', '.yaml')));

        // The layout loads (as the sftp kind loads it); COBOL writes ASCII, so it is read as ascii here.
        const spec = loadRecordFileSpec(result.layoutFile, { encoding: 'ascii' });
        expect(spec.types.map((t) => t.role)).toEqual(['header', 'detail', 'trailer']);
        const text = readFileSync(join(root, 'layouts', file), 'latin1');
        const recordLabels = parseCopybookDetailed(text, file)
          .entries.filter((e) => e.level === 1)
          .map((e) => e.label);
        expect(recordLabels).toHaveLength(spec.types.length);
        const plans: CobolRecordPlan[] = spec.types.map((t, i) => ({
          label: recordLabels[i],
          layout: t.codec.layout,
          role: t.role,
          fixed: { [t.codec.layout.items[0].label]: t.code! },
        }));

        const dir = join(root, 'cobol');
        mkdirSync(dir);
        copyFileSync(join(root, 'layouts', file), join(dir, file));
        const bytes = writeWithCobol(dir, file, plans, { records: DETAILS, length: spec.recordLength });
        expect(bytes.length).toBe((DETAILS + 2) * spec.recordLength);

        const { rows, summary } = await decodeRecordFile([bytes], spec);
        expect(summary.problems).toEqual([]);
        expect(rows.map((r) => r.type)).toEqual(['header', ...Array<string>(DETAILS).fill('detail'), 'trailer']);

        // Every record against the schema of its type, as the contract file now holds it.
        const contract = parse(readFileSync(join(root, 'openapi.yaml'), 'utf8')) as { components: { schemas: Record<string, object> } };
        const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
        const validators = new Map(result.schemas.map((s) => [s.type, ajv.compile(contract.components.schemas[s.name])]));
        const faults: unknown[] = [];
        for (const row of rows) {
          const validate = validators.get(row.type)!;
          if (!validate(row.value)) faults.push({ recordNo: row.recordNo, type: row.type, value: row.value, errors: validate.errors });
        }
        expect(faults).toEqual([]);

        // The comment of the contract survived, and the project checks out.
        expect(readFileSync(join(root, 'openapi.yaml'), 'utf8')).toContain('# Operations come later; the scaffolds add schemas first.');
        expect(await Gateway.check({ root, env: {} })).toEqual([]);
      },
      120_000,
    );
  }

  it('products.cpy: the detail schema names, types and enums follow the copybook', () => {
    const root = newProject('products.cpy');
    const { schemas } = scaffoldCopybook({ copybook: 'layouts/products.cpy', project: root, cwd: root });
    expect(schemas.map((s) => s.name)).toEqual(['ProductHeader', 'ProductRecord', 'ProductTrailer']);
    const detail = schemas[1].schema as { required: string[]; properties: Record<string, Record<string, unknown>> };
    // Numbers always have a value; text and dates may be blank (and then left out of the sftp kind's answers).
    expect(detail.required).toEqual(['prUnitPrice', 'prStockQty', 'prLastChanged']);
    expect(Object.keys(detail.properties)).toEqual(['prRecType', 'prSku', 'prDescription', 'prUnitPrice', 'prCurrency', 'prStockQty', 'prStatus', 'prLastChanged']);
    expect(detail.properties.prSku).toMatchObject({ type: 'string', maxLength: 7 });
    expect(detail.properties.prUnitPrice).toMatchObject({ type: 'number', minimum: -9999999.99, maximum: 9999999.99 });
    expect(detail.properties.prStockQty).toMatchObject({ type: 'integer', minimum: -9999999, maximum: 9999999 });
    expect(detail.properties.prStatus).toMatchObject({ type: 'string', enum: ['active', 'discontinued', 'backorder'] });
    const header = schemas[0].schema as { properties: Record<string, Record<string, unknown>> };
    expect(header.properties.phExtractDate).toMatchObject({ type: ['string', 'null'], format: 'date' });
    const layout = readFileSync(join(root, 'layouts', 'products.yaml'), 'utf8');
    expect(layout).toContain('PH-EXTRACT-DATE: { date: YYYYMMDD }   # guess');
    expect(layout).toContain('# checks: { count: ptRecordCount }');
  });

  it('the command: writes once, refuses to overwrite without --force (exit 2 with the fix)', () => {
    const root = newProject('replies.cpy');
    const ficus = join(PROJECT_ROOT, 'bin', 'ficus.js');
    const first = spawnSync(process.execPath, [ficus, 'scaffold', 'copybook', 'layouts/replies.cpy'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('components.schemas.ReplyRecord (detail)');
    const again = spawnSync(process.execPath, [ficus, 'scaffold', 'copybook', 'layouts/replies.cpy', '--project', '.'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/layouts\/replies\.yaml exists\n {2}fix: give --force/);
    const forced = spawnSync(process.execPath, [ficus, 'scaffold', 'copybook', 'layouts/replies.cpy', '--force', '--record', 'REPLY-RECORD', '--layout', 'layouts/reply-detail.yaml'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(forced.status).toBe(0);
    expect(loadRecordFileSpec(join(root, 'layouts', 'reply-detail.yaml')).types.map((t) => t.name)).toEqual(['replies']);
  });
});
