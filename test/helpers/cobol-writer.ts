/**
 * GnuCOBOL as the writer of record files, for any copybook: a COBOL program with the copybook in its
 * WORKING-STORAGE fills each 01 record field by field (values computed from the record number: text,
 * signed and unsigned numbers in every usage, level-88 conditions SET TO TRUE in turn, OCCURS
 * DEPENDING ON counters within their range, valid dates where the layout says a field is one), MOVEs
 * it to the file's record (padded with spaces to the longest, as RECFM=F files are) and WRITEs it:
 * one header, `records` details, one trailer. Compiled with `-fsign=EBCDIC` (IBM's zoned signs; the
 * text is ASCII, so layouts are read with `encoding: ascii`). cobol-oracle.test.ts compares values
 * with what COBOL DISPLAYs; this writes files whose shape a layout and a schema must accept.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FieldItem, Item, RecordLayout } from '../../src/records/layout.ts';

export const hasCobc = spawnSync('cobc', ['--version']).status === 0;

export interface CobolRecordPlan {
  /** The 01 level's COBOL name. */
  label: string;
  layout: RecordLayout;
  role: 'header' | 'detail' | 'trailer';
  /** COBOL field name → the text it always holds (e.g. the record-type code). */
  fixed?: Record<string, string>;
}

const pow10 = (n: number) => '1' + '0'.repeat(n);

function dateFormula(format: string): string {
  const y = 'FUNCTION MOD(I, 30)';
  const md = '(1 + FUNCTION MOD(I, 12)) * 100 + 1 + FUNCTION MOD(I, 28)';
  switch (format) {
    case 'YYYYMMDD':
      return `(2000 + ${y}) * 10000 + ${md}`;
    case 'CYYMMDD':
      return `1000000 + ${y} * 10000 + ${md}`;
    case 'YYMMDD':
      return `${y} * 10000 + ${md}`;
    case 'YYYYDDD':
      return `(2000 + ${y}) * 1000 + 1 + FUNCTION MOD(I, 365)`;
    default:
      return `${y} * 1000 + 1 + FUNCTION MOD(I, 365)`;
  }
}

function counters(items: readonly Item[], out = new Map<string, { min: number; max: number }>()): Map<string, { min: number; max: number }> {
  for (const item of items) {
    if (item.occurs?.dependingOn) out.set(item.occurs.dependingOn.toUpperCase(), { min: item.occurs.min, max: item.occurs.max });
    if (item.kind === 'group') counters(item.children, out);
  }
  return out;
}

function statementsFor(field: FieldItem, ref: string, seed: number, plan: CobolRecordPlan, odo: Map<string, { min: number; max: number }>): string[] {
  const fixed = plan.fixed?.[field.label];
  if (fixed !== undefined) return [`MOVE "${fixed}" TO ${ref}`];
  const counter = odo.get(field.label);
  if (counter) return [`COMPUTE ${ref} = ${counter.min} + FUNCTION MOD(I, ${counter.max - counter.min + 1})`];
  if (field.conditions && field.conditions.length > 0) {
    const subs = /\(.*\)$/.exec(ref)?.[0] ?? '';
    const n = field.conditions.length;
    return [`EVALUATE FUNCTION MOD(I, ${n})`, ...field.conditions.map((c, k) => `WHEN ${k} SET ${c.name.toUpperCase()} OF ${plan.label} ${subs} TO TRUE`), 'END-EVALUATE'];
  }
  const { pic, usage } = field;
  if (pic.kind === 'numeric') {
    if (usage === 'comp-1' || usage === 'comp-2' || usage === 'pointer' || usage === 'index' || pic.scale < 0) return [];
    if (field.date) return [`COMPUTE ${ref} = ${dateFormula(field.date.format)}`];
    const digits = Math.min(pic.length, 18);
    const offset = pic.signed ? ` - ${'5' + '0'.repeat(digits - 1)}` : '';
    const scale = pic.scale > 0 ? ` / ${pow10(pic.scale)}` : '';
    return [`COMPUTE ${ref} = (FUNCTION MOD(I * 7919 + ${seed}, ${pow10(digits)})${offset})${scale}`];
  }
  if (pic.kind !== 'alnum') return [];
  if (!/^[XA9()0-9]+$/.test(pic.text)) return [`MOVE I TO ${ref}`]; // numeric-edited
  return [`MOVE SPACES TO ${ref}`, `STRING "V" ZI DELIMITED BY SIZE INTO ${ref}`];
}

function fill(items: readonly Item[], plan: CobolRecordPlan, subs: string[], odo: Map<string, { min: number; max: number }>, out: string[]): void {
  for (const item of items) {
    if (item.redefines || item.label === 'FILLER') continue;
    const times = item.occurs?.max ?? 1;
    for (let k = 1; k <= times; k++) {
      const s = item.occurs ? [...subs, String(k)] : subs;
      if (item.kind === 'group') fill(item.children, plan, s, odo, out);
      else out.push(...statementsFor(item, `${item.label} OF ${plan.label}${s.length ? ` (${s.join(', ')})` : ''}`, out.length + 1, plan, odo));
    }
  }
}

/** Splits a statement over lines of the fixed format's code area (columns 12 to 72). */
export function wrap(statement: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of statement.split(' ')) {
    if (line && line.length + 1 + word.length > 58) {
      lines.push(`           ${line}`);
      line = `    ${word}`;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`           ${line}`);
  return lines;
}

function recordStatements(plan: CobolRecordPlan): string[] {
  const body: string[] = [`INITIALIZE ${plan.label}`];
  fill(plan.layout.items, plan, [], counters(plan.layout.items), body);
  body.push(`MOVE ${plan.label} TO OUT-REC`, 'WRITE OUT-REC');
  return body;
}

/**
 * Compiles and runs the writer in `dir` (where `copybook` is) and returns the file's bytes: each
 * record `length` bytes, header first, `records` details (every detail plan in turn), trailer last.
 */
export function writeWithCobol(dir: string, copybook: string, plans: readonly CobolRecordPlan[], opts: { records: number; length: number }): Buffer {
  const statements = (role: CobolRecordPlan['role']) => plans.filter((p) => p.role === role).flatMap(recordStatements);
  const program = [
    '       IDENTIFICATION DIVISION.',
    '       PROGRAM-ID. SCAFWR.',
    '       ENVIRONMENT DIVISION.',
    '       INPUT-OUTPUT SECTION.',
    '       FILE-CONTROL.',
    '           SELECT DATA-FILE ASSIGN TO "cobol.dat"',
    '               ORGANIZATION SEQUENTIAL.',
    '       DATA DIVISION.',
    '       FILE SECTION.',
    '       FD DATA-FILE.',
    `       01 OUT-REC PIC X(${opts.length}).`,
    '       WORKING-STORAGE SECTION.',
    `       COPY "${copybook}".`,
    '       01 I PIC 9(6) VALUE 0.',
    '       01 ZI PIC 9(6).',
    '       PROCEDURE DIVISION.',
    '           OPEN OUTPUT DATA-FILE',
    '           MOVE 1 TO I',
    '           MOVE I TO ZI',
    ...statements('header').flatMap(wrap),
    `           PERFORM VARYING I FROM 1 BY 1 UNTIL I > ${opts.records}`,
    '           MOVE I TO ZI',
    ...statements('detail').flatMap(wrap),
    '           END-PERFORM',
    `           MOVE ${opts.records} TO I`,
    '           MOVE I TO ZI',
    ...statements('trailer').flatMap(wrap),
    '           CLOSE DATA-FILE',
    '           STOP RUN.',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'writer.cbl'), program);
  const c = spawnSync('cobc', ['-x', '-fsign=EBCDIC', '-o', 'writer', 'writer.cbl'], { cwd: dir, encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`cobc writer.cbl failed: ${c.stderr}\n${program}`);
  const r = spawnSync('./writer', { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`writer failed: ${r.stderr}`);
  return readFileSync(join(dir, 'cobol.dat'));
}
