/**
 * A copybook → the text of a layout file (the YAML src/records/layout-file.ts reads), with the
 * guesses it makes said in comments: which 01 level is a header, a detail or a trailer, the
 * record-type field and codes that tell them apart, which numbers are dates, the trailer's count.
 * The layout names the copybook (`copybook: x.cpy`) rather than copying its fields, so the copybook
 * stays the one source of the record's shape; `overrides:` carry what the copybook cannot say.
 */
import { CopybookError, parseCopybook } from '../records/copybook.ts';
import { jsonName, type DateFormat, type FieldItem, type Item, type RecordLayout } from '../records/layout.ts';
import { ScaffoldError } from './scaffold-error.ts';

/** `--when ITEM:FIELD=v1,v2`: decode the REDEFINES item ITEM instead of the one it redefines when FIELD holds one of the values. */
export interface WhenRule {
  item: string;
  field: string;
  equals: string[];
}

export function parseWhen(text: string): WhenRule {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9_-]*)\s*:\s*([A-Za-z0-9][A-Za-z0-9_-]*)\s*=\s*(.+)$/.exec(text);
  if (!m) throw new ScaffoldError(`--when ${text}: not ITEM:FIELD=value[,value...]`, 'e.g. --when PR-ALT-PRICE:PR-PRICE-KIND=B,C (the REDEFINES item, the field decoded before it, its values)');
  return { item: m[1].toUpperCase(), field: m[2], equals: m[3].split(',').map((v) => v.trim()) };
}

export type Role = 'header' | 'detail' | 'trailer';

export interface ScaffoldedType {
  /** The key under `records:` (or the layout's name when there is one record). */
  key: string;
  role: Role;
  /** The 01 level's name in the codec (camelCase), for `record:`. */
  record: string;
  /** The 01 level's name as parsed (camelCase), for the schema's name. */
  label: string;
  code?: string;
  layout: RecordLayout;
}

export interface ScaffoldedLayout {
  text: string;
  types: ScaffoldedType[];
  /** What was guessed, one line each (also in the file's comments). */
  guesses: string[];
}

export interface LayoutOptions {
  /** The copybook's file name, as the layout names it (relative to the layout). */
  copybook: string;
  /** The layout's name (the file's base name). */
  name: string;
  /** Only this 01 level (its COBOL or camelCase name). */
  record?: string;
  when?: readonly WhenRule[];
  copyDirs?: readonly string[];
}

function roleOf(label: string): Role {
  if (/(^|-)(HEADER|HDR|HEAD)(-|$)/i.test(label)) return 'header';
  if (/(^|-)(TRAILER|TRL|TRLR|TRAIL|FOOTER)(-|$)/i.test(label)) return 'trailer';
  return 'detail';
}

/** The first item of a record, when it is a short text field at offset 0 (a record-type code). */
function typeField(layout: RecordLayout): FieldItem | undefined {
  const first = layout.items[0];
  if (!first || first.kind !== 'field' || first.offset !== 0 || first.occurs || first.pic.kind !== 'alnum' || first.pic.length > 4) return undefined;
  return first;
}

/** `05 PH-REC-TYPE PIC X VALUE 'H'.`: the VALUE the copybook gives a field, if any. */
function valueInSource(text: string, label: string): string | undefined {
  const re = new RegExp(`\\b${label.replace(/[-]/g, '\\-')}\\b[^.]*?\\bVALUES?\\s+(?:IS\\s+)?(['"])([^'"]*)\\1`, 'i');
  return re.exec(text)?.[2];
}

/** A date format guessed from a numeric field's name and digits. */
function dateOf(field: FieldItem): DateFormat | undefined {
  if (field.pic.kind !== 'numeric' || field.pic.scale !== 0 || field.occurs) return undefined;
  if (!/(DATE|-DT|-DTE)(-|$)/i.test(field.label)) return undefined;
  if (field.usage !== 'display' && field.usage !== 'comp-3') return undefined;
  return ({ 8: 'YYYYMMDD', 7: 'CYYMMDD', 6: 'YYMMDD' } as Record<number, DateFormat>)[field.pic.length];
}

function fields(items: readonly Item[]): FieldItem[] {
  return items.flatMap((i) => (i.kind === 'field' ? [i] : fields(i.children)));
}

function all(items: readonly Item[]): Item[] {
  return items.flatMap((i) => (i.kind === 'field' ? [i] : [i, ...all(i.children)]));
}

/** A YAML scalar: plain where that reads back as the same string, else JSON-quoted. */
function scalar(v: string): string {
  return /^[A-Za-z][A-Za-z0-9_.-]*$/.test(v) && !/^(y|n|yes|no|on|off|true|false|null)$/i.test(v) ? v : JSON.stringify(v);
}

function whenValue(field: FieldItem | undefined, v: string): string {
  if (field && field.pic.kind === 'numeric' && !field.conditions && /^-?\d+(\.\d+)?$/.test(v)) return v;
  return JSON.stringify(v);
}

/** The overrides of one record: dates guessed from names, and the `--when` rules of its REDEFINES items. */
function overridesOf(layout: RecordLayout, rules: readonly WhenRule[], used: Set<WhenRule>, guesses: string[], where: string): string[] {
  const lines: string[] = [];
  for (const f of fields(layout.items)) {
    const date = dateOf(f);
    if (!date) continue;
    lines.push(`${f.label}: { date: ${date} }   # guess: a date, from its name and its ${f.pic.length} digits`);
    guesses.push(`${where}${f.label} is a ${date} date (from its name and its ${f.pic.length} digits)`);
  }
  const items = all(layout.items);
  for (const rule of rules) {
    const item = items.find((i) => i.label === rule.item);
    if (!item) continue;
    used.add(rule);
    if (!item.redefines) throw new ScaffoldError(`--when ${rule.item}: ${rule.item} does not REDEFINE anything`, 'name the item that has the REDEFINES clause');
    const target = items.find((i) => i.kind === 'field' && (i.label === rule.field.toUpperCase() || i.name === rule.field)) as FieldItem | undefined;
    if (!target) throw new ScaffoldError(`--when ${rule.item}: no field ${rule.field} in ${layout.name}`, 'name a field decoded before the REDEFINES item, in the same group');
    lines.push(`${item.label}: { when: { field: ${target.name}, equals: [${rule.equals.map((v) => whenValue(target, v)).join(', ')}] } }`);
  }
  return lines;
}

function trailerCount(layout: RecordLayout): string | undefined {
  return fields(layout.items).find((f) => f.pic.kind === 'numeric' && f.pic.scale === 0 && /(REC|RECORD)S?-(COUNT|CNT)|COUNT$/i.test(f.label))?.name;
}

function header(opts: LayoutOptions): string[] {
  return [
    `# Scaffolded by \`ficus scaffold copybook\` from ${opts.copybook}: check every line marked "guess".`,
    `# The copybook stays the record's one description; overrides: add what it cannot say (dates, when rules).`,
    `name: ${scalar(opts.name)}`,
    `encoding: cp037        # guess: EBCDIC (CCSID 37), as a mainframe writes; ascii, cp500, cp1047, cp1140, latin1...`,
    `delimiter: none        # guess: fixed-length records (RECFM=F); lf, crlf, or rdw for RECFM=V/VB`,
  ];
}

function block(lines: string[], indent: string): string[] {
  return lines.map((l) => `${indent}${l}`);
}

/** Parses the copybook and writes the layout text; throws ScaffoldError with a fix. */
export function scaffoldLayout(text: string, opts: LayoutOptions): ScaffoldedLayout {
  let layouts: RecordLayout[];
  try {
    layouts = parseCopybook(text, opts.copybook, opts.name, { copyDirs: opts.copyDirs });
  } catch (err) {
    if (err instanceof CopybookError) throw new ScaffoldError(err.message, 'correct the copybook (ficus layout decode --layout <copybook> reads it the same way)');
    throw err;
  }
  const several = layouts.length > 1;
  if (opts.record !== undefined) {
    const wanted = opts.record;
    const hit = layouts.find((l) => l.name === wanted || l.name === jsonName(wanted) || l.name.toUpperCase() === wanted.toUpperCase());
    if (!hit) throw new ScaffoldError(`${opts.copybook}: no 01 level ${wanted}`, `use one of: ${layouts.map((l) => l.name).join(', ')}`);
    layouts = [hit];
  }
  const rules = opts.when ?? [];
  const used = new Set<WhenRule>();
  const guesses: string[] = [];
  const out = header(opts);
  const types: ScaffoldedType[] = [];
  if (layouts.length === 1) {
    const layout = layouts[0];
    if (several) out.push(`copybook: ${scalar(opts.copybook)}`, `record: ${layout.name}`);
    else out.push(`copybook: ${scalar(opts.copybook)}`);
    const overrides = overridesOf(layout, rules, used, guesses, '');
    if (overrides.length > 0) out.push('overrides:', ...block(overrides, '  '));
    types.push({ key: opts.name, role: 'detail', record: layout.name, label: layout.name, layout });
  } else {
    const firsts = layouts.map(typeField);
    const length = firsts[0]?.pic.length;
    if (firsts.some((f) => !f || f.pic.length !== length))
      throw new ScaffoldError(
        `${opts.copybook} has ${layouts.length} records (${layouts.map((l) => l.name).join(', ')}) and no record-type field they all start with`,
        'scaffold one of them with --record <name>',
      );
    const roles = layouts.map((l) => roleOf(l.name.replace(/([a-z])([A-Z])/g, '$1-$2')));
    const count = (r: Role) => roles.filter((x) => x === r).length;
    const codes = new Set<string>();
    out.push(`recordType: { offset: 0, length: ${length} }   # guess: every record starts with its type (${firsts.map((f) => f!.label).join(', ')})`, 'records:');
    layouts.forEach((layout, i) => {
      const role = roles[i];
      const key = role !== 'detail' ? (count(role) === 1 ? role : layout.name) : count('detail') === 1 ? 'detail' : layout.name;
      const field = firsts[i]!;
      const given = valueInSource(text, field.label);
      let code = given ?? (key === role ? role[0].toUpperCase() : layout.name[0].toUpperCase());
      if (!given) {
        for (let n = 1; codes.has(code) && n < 100; n++) code = String(n);
      }
      codes.add(code);
      const said = given !== undefined ? `# ${field.label} VALUE '${given}' in the copybook` : `# guess: check ${field.label}'s value in the file`;
      if (given === undefined) guesses.push(`${key} records have the code ${code} in ${field.label}`);
      out.push(`  ${key}:`);
      if (role !== 'detail' || key !== 'detail') out.push(`    role: ${role}${role !== 'detail' ? `   # guess: from its name, ${layout.name}` : ''}`);
      out.push(`    code: ${JSON.stringify(code)}   ${said}`, `    copybook: ${scalar(opts.copybook)}`, `    record: ${layout.name}`);
      const overrides = overridesOf(layout, rules, used, guesses, `${key}: `);
      if (overrides.length > 0) out.push('    overrides:', ...block(overrides, '      '));
      if (role === 'trailer') {
        const counter = trailerCount(layout);
        if (counter) out.push(`    # checks: { count: ${counter} }   # guess: the trailer counts the detail records; uncomment once checked`);
      }
      types.push({ key, role, record: layout.name, label: layout.name, code, layout });
    });
  }
  for (const rule of rules)
    if (!used.has(rule)) throw new ScaffoldError(`--when ${rule.item}: no such item in ${opts.copybook}${opts.record ? ` (record ${opts.record})` : ''}`, 'name a REDEFINES item of the copybook');
  return { text: out.join('\n') + '\n', types, guesses };
}
