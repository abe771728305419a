/**
 * Layout files: a small YAML that declares a record file (its code page, record delimiter, and one
 * or more record types told apart by a record-type field, with the trailer's count and control
 * totals), each record type given field by field or taken from a COBOL copybook. A bare copybook
 * (`.cpy`) is a layout file too. Mistakes are reported with the file, the key and the fix.
 *
 * ```yaml
 * encoding: cp037            # cp037 cp500 cp1047 cp1140 cp273 cp1252 cp437 cp850 latin1 ascii
 * delimiter: none            # none (fixed-length blocks) | lf | crlf | rdw (RECFM=V/VB: record descriptor words)
 * blocked: false             # rdw only: block descriptor words too (RECFM=VB as it comes off the tape or dataset)
 * copybooks: [copy]          # folders searched for the copybooks COPY statements name (default: the layout's folder)
 * binary: full               # full | truncate | refuse: binary values wider than their PICTURE
 * binarySize: 2-4-8          # bytes of COMP/BINARY items by digits: 2-4-8 (IBM: 1-4 digits 2, 5-9 4, 10-18 8)
 *                            #   | 1-2-4-8 (GnuCOBOL's default: 1-2 digits 1 byte) | 1--8 (Micro Focus: fewest bytes, 1 to 8)
 * comp5Size: 1-2-4-8         # COMP-5 when it differs (default: as binarySize; GnuCOBOL -std=ibm: 1-2-4-8)
 * pointerSize: 4             # 4 (IBM) | 8 (64-bit GnuCOBOL and Micro Focus): POINTER items; INDEX is 4
 * byteOrder: big             # big (IBM) | little (x86: Micro Focus, GnuCOBOL): COMP-5, POINTER, floating point, and COMP unless…
 * binaryByteOrder: big       # COMP/BINARY/COMP-4 when it differs from byteOrder: Micro Focus and GnuCOBOL write it big-endian beside little COMP-5
 * float: ibm                 # ibm (hexadecimal) | ieee: COMP-1 and COMP-2
 * zonedSign: ibm             # ibm | ascii (GnuCOBOL, Micro Focus: negative digits 0x70-0x79)
 * dbcs: shift_jis            # the iconv-lite code page of PIC G fields, when there are some
 * recordType: { offset: 0, length: 1 }
 * records:
 *   header:  { code: H, fields: [ { name: recType, pic: X }, { name: createdOn, pic: 9(8), date: YYYYMMDD } ] }
 *   detail:  { code: D, copybook: product.cpy, overrides: { PROD-CHANGED: { date: YYYYMMDD } } }
 *   trailer: { code: T, fields: [...], checks: { count: recordCount, sums: { totalQty: detail.quantity } } }
 * ```
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import iconv from 'iconv-lite';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isCodePage, CODE_PAGES } from './code-pages.ts';
import { CopybookError, parseCopybook } from './copybook.ts';
import { DATE_FORMATS, buildLayout, LayoutError, type Condition, type DateFormat, type FieldItem, type Item, type RecordLayout, type When } from './layout.ts';
import { BINARY_SIZES, implicitPic, parsePic, type BinarySize, type PicError, type Sizing, type Usage } from './pic.ts';
import { compileRecord, type RecordCodec } from './record-codec.ts';

export class LayoutFileError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${file}: ${key || '(top level)'}: ${problem}\n  fix: ${fix}`);
    this.name = 'LayoutFileError';
  }
}

const usageSchema = z.enum(['display', 'comp-3', 'packed', 'comp-6', 'comp', 'binary', 'comp-4', 'comp-5', 'comp-1', 'comp-2', 'pointer', 'index']);
const whenSchema = z.object({ field: z.string(), equals: z.union([z.array(z.union([z.string(), z.number()])), z.string(), z.number()]) }).strict();
const valuesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))]));

const fieldProps = {
  usage: usageSchema.optional(),
  sign: z.enum(['leading', 'trailing', 'leading-separate', 'trailing-separate']).optional(),
  date: z.enum(DATE_FORMATS as [DateFormat, ...DateFormat[]]).optional(),
  pivot: z.number().int().min(0).max(99).optional(),
  justify: z.enum(['left', 'right']).optional(),
  truncate: z.enum(['refuse', 'cut']).optional(),
  values: valuesSchema.optional(),
  when: whenSchema.optional(),
};

interface YamlField {
  name?: string;
  pic?: string;
  fields?: YamlField[];
  occurs?: number | { min?: number; max: number; dependingOn?: string };
  redefines?: string;
  usage?: z.infer<typeof usageSchema>;
  sign?: 'leading' | 'trailing' | 'leading-separate' | 'trailing-separate';
  date?: DateFormat;
  pivot?: number;
  justify?: 'left' | 'right';
  truncate?: 'refuse' | 'cut';
  values?: z.infer<typeof valuesSchema>;
  when?: z.infer<typeof whenSchema>;
}

const fieldSchema: z.ZodType<YamlField> = z.lazy(() =>
  z
    .object({
      name: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9_-]*$/)
        .optional(),
      pic: z.string().optional(),
      fields: z.array(fieldSchema).optional(),
      occurs: z.union([z.number().int().min(1), z.object({ min: z.number().int().min(0).optional(), max: z.number().int().min(1), dependingOn: z.string().optional() }).strict()]).optional(),
      redefines: z.string().optional(),
      ...fieldProps,
    })
    .strict(),
);

const overrideSchema = z.object(fieldProps).strict();

const checksSchema = z
  .object({
    /** The trailer field holding the number of detail records. */
    count: z.string().optional(),
    /** Which record types it counts (default: every type that is neither header nor trailer). */
    counts: z.union([z.string(), z.array(z.string())]).optional(),
    /** Control totals: trailer field → `recordType.fieldPath` summed over the file. */
    sums: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const recordSchema = z
  .object({
    code: z.union([z.string(), z.number()]).optional(),
    role: z.enum(['header', 'detail', 'trailer']).optional(),
    fields: z.array(fieldSchema).optional(),
    copybook: z.string().optional(),
    /** The 01 level to take from the copybook, when it has several. */
    record: z.string().optional(),
    overrides: z.record(z.string(), overrideSchema).default({}),
    checks: checksSchema.optional(),
  })
  .strict();

const fileSchema = z
  .object({
    name: z.string().optional(),
    encoding: z.string().default('cp037'),
    delimiter: z.enum(['none', 'lf', 'crlf', 'rdw']).default('none'),
    blocked: z.boolean().default(false),
    copybooks: z.array(z.string()).optional(),
    binary: z.enum(['full', 'truncate', 'refuse']).default('full'),
    binarySize: z.enum(BINARY_SIZES as [BinarySize, ...BinarySize[]]).default('2-4-8'),
    comp5Size: z.enum(BINARY_SIZES as [BinarySize, ...BinarySize[]]).optional(),
    pointerSize: z.union([z.literal(4), z.literal(8)]).default(4),
    byteOrder: z.enum(['big', 'little']).default('big'),
    binaryByteOrder: z.enum(['big', 'little']).optional(),
    float: z.enum(['ibm', 'ieee']).default('ibm'),
    zonedSign: z.enum(['ibm', 'ascii']).default('ibm'),
    dbcs: z.string().optional(),
    recordType: z
      .object({ offset: z.number().int().min(0), length: z.number().int().min(1) })
      .strict()
      .optional(),
    truncate: z.enum(['refuse', 'cut']).default('refuse'),
    pivot: z.number().int().min(0).max(99).default(50),
    records: z.record(z.string(), recordSchema).optional(),
    fields: z.array(fieldSchema).optional(),
    copybook: z.string().optional(),
    record: z.string().optional(),
    overrides: z.record(z.string(), overrideSchema).default({}),
  })
  .strict();

export type Delimiter = 'none' | 'lf' | 'crlf' | 'rdw';
export type RecordRole = 'header' | 'detail' | 'trailer';

export interface RecordTypeSpec {
  name: string;
  role: RecordRole;
  /** The record-type code (as text in the file's code page). */
  code?: string;
  codec: RecordCodec;
  checks?: { count?: string; counts: string[]; sums: { field: string; type: string; path: string[] }[] };
}

export interface RecordFileSpec {
  name: string;
  /** Where it was read from, for messages. */
  source: string;
  encoding: string;
  delimiter: Delimiter;
  /** rdw: records are grouped in blocks, each with a block descriptor word (RECFM=VB). */
  blocked?: boolean;
  /** Fixed block length (delimiter none): the longest record type. */
  recordLength: number;
  recordType?: { offset: number; length: number };
  types: RecordTypeSpec[];
}

function usageOf(u: YamlField['usage']): Usage {
  if (u === 'packed') return 'comp-3';
  if (u === 'binary' || u === 'comp-4') return 'comp';
  return (u ?? 'display') as Usage;
}

function conditionsOf(values: YamlField['values']): Condition[] | undefined {
  if (!values) return undefined;
  return Object.entries(values).map(([name, v]) => ({ name, values: Array.isArray(v) ? v : [v] }));
}

function whenOf(w: YamlField['when']): When | undefined {
  if (!w) return undefined;
  return { field: w.field, equals: Array.isArray(w.equals) ? w.equals : [w.equals] };
}

function applyProps(
  field: FieldItem,
  p: Omit<YamlField, 'name' | 'pic' | 'fields' | 'occurs' | 'redefines'>,
  defaults: { pivot: number; truncate: 'refuse' | 'cut' },
  where: () => LayoutFileErrorArgs,
): void {
  if (p.usage !== undefined) field.usage = usageOf(p.usage);
  if (p.sign !== undefined) {
    if (!field.pic.signed) throw new LayoutFileError(...where(), `sign: ${p.sign} on an unsigned PIC ${field.pic.text}`, 'use PIC S9..., or drop sign');
    field.signSeparate = p.sign.endsWith('separate') ? (p.sign.startsWith('leading') ? 'leading' : 'trailing') : undefined;
    field.signLeading = p.sign === 'leading' ? true : undefined;
  }
  if (p.date !== undefined) field.date = { format: p.date, pivot: p.pivot ?? defaults.pivot };
  if (p.justify !== undefined) field.justify = p.justify;
  if (p.truncate !== undefined) field.truncate = p.truncate;
  if (p.values !== undefined) field.conditions = conditionsOf(p.values);
  if (p.when !== undefined) field.when = whenOf(p.when);
}

type LayoutFileErrorArgs = [file: string, key: string];

function itemsFromYaml(fields: YamlField[], file: string, key: string, defaults: { pivot: number; truncate: 'refuse' | 'cut' }): Item[] {
  return fields.map((f, i) => {
    const at = `${key}[${i}]`;
    const label = f.name ?? 'FILLER';
    const name = f.name ?? '';
    let occurs: Item['occurs'];
    if (f.occurs !== undefined) occurs = typeof f.occurs === 'number' ? { min: f.occurs, max: f.occurs } : { min: f.occurs.min ?? f.occurs.max, max: f.occurs.max, dependingOn: f.occurs.dependingOn };
    if (occurs && occurs.min !== occurs.max && !occurs.dependingOn)
      throw new LayoutFileError(file, `${at}.occurs`, `a table of ${occurs.min} to ${occurs.max} items needs dependingOn`, 'name the counter field: dependingOn: <field>');
    if (f.fields) {
      if (f.pic !== undefined) throw new LayoutFileError(file, `${at}.pic`, 'a group (with fields) has no pic', 'remove pic, or remove fields');
      return { kind: 'group', name, label, children: itemsFromYaml(f.fields, file, `${at}.fields`, defaults), occurs, redefines: f.redefines, when: whenOf(f.when), offset: 0, size: 0 } satisfies Item;
    }
    const implicit = f.pic === undefined && f.usage ? implicitPic(usageOf(f.usage)) : undefined;
    if (f.pic === undefined && !implicit)
      throw new LayoutFileError(
        file,
        at,
        `field ${label} has neither pic nor fields`,
        'give a picture, e.g. pic: X(10), pic: S9(7)V99, or fields: [...] for a group (COMP-1, COMP-2 and POINTER take none)',
      );
    let pic;
    try {
      pic = implicit ?? parsePic(f.pic!);
    } catch (err) {
      throw new LayoutFileError(file, `${at}.pic`, (err as PicError).message, 'use X(n), 9(n), S9(n)V9(m)');
    }
    const field: FieldItem = { kind: 'field', name, label, pic, usage: 'display', justify: 'left', truncate: defaults.truncate, occurs, redefines: f.redefines, offset: 0, size: 0 };
    applyProps(field, f, defaults, () => [file, at]);
    if (pic.kind !== 'numeric' && field.usage !== 'display')
      throw new LayoutFileError(file, `${at}.usage`, `PIC ${f.pic} cannot be ${field.usage}`, 'use a numeric picture (9, S9, V) for packed or binary fields');
    return field;
  });
}

function findByLabel(items: Item[], label: string): Item | undefined {
  const up = label.toUpperCase();
  for (const item of items) {
    if (item.label.toUpperCase() === up || (item.name && item.name.toUpperCase() === up)) return item;
    if (item.kind === 'group') {
      const hit = findByLabel(item.children, label);
      if (hit) return hit;
    }
  }
  return undefined;
}

interface RecordSource {
  fields?: YamlField[];
  copybook?: string;
  record?: string;
  overrides: Record<string, z.infer<typeof overrideSchema>>;
}

function layoutOf(
  src: RecordSource,
  name: string,
  file: string,
  key: string,
  baseDir: string,
  defaults: { pivot: number; truncate: 'refuse' | 'cut'; copyDirs: string[]; sizing: Sizing },
): RecordLayout {
  const prefix = key ? `${key}.` : '';
  if (src.fields && src.copybook) throw new LayoutFileError(file, `${prefix}copybook`, 'both fields and copybook are given', 'keep one of them');
  if (src.fields) {
    try {
      return buildLayout(name, itemsFromYaml(src.fields, file, `${prefix}fields`, defaults), defaults.sizing);
    } catch (err) {
      if (err instanceof LayoutError) throw new LayoutFileError(file, `${prefix}fields`, err.message, 'correct the fields');
      throw err;
    }
  }
  if (!src.copybook) throw new LayoutFileError(file, key, 'no fields and no copybook', 'add fields: [...] or copybook: <file.cpy>');
  const path = resolve(baseDir, src.copybook);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LayoutFileError(file, `${prefix}copybook`, `cannot read ${src.copybook} (looked at ${path})`, 'give the copybook path relative to the layout file');
  }
  let layouts: RecordLayout[];
  try {
    layouts = parseCopybook(text, src.copybook, name, { copyDirs: [...defaults.copyDirs, dirname(path)], sizing: defaults.sizing });
  } catch (err) {
    if (err instanceof CopybookError) throw new LayoutFileError(file, `${prefix}copybook`, err.message, 'correct the copybook');
    throw err;
  }
  let layout = layouts[0];
  if (src.record) {
    const hit = layouts.find((l) => l.name.toUpperCase() === src.record!.toUpperCase() || l.name === src.record);
    if (!hit) throw new LayoutFileError(file, `${prefix}record`, `no 01 level ${src.record} in ${src.copybook}`, `use one of: ${layouts.map((l) => l.name).join(', ')}`);
    layout = hit;
  } else if (layouts.length > 1) {
    throw new LayoutFileError(file, `${prefix}record`, `${src.copybook} has ${layouts.length} records (${layouts.map((l) => l.name).join(', ')})`, 'say which: record: <name>');
  }
  for (const [label, props] of Object.entries(src.overrides)) {
    const item = findByLabel(layout.items, label);
    if (!item) throw new LayoutFileError(file, `${prefix}overrides.${label}`, `no field ${label} in ${src.copybook}`, 'use a COBOL name of the copybook');
    if (item.kind !== 'field') {
      if (props.when) item.when = whenOf(props.when);
      else throw new LayoutFileError(file, `${prefix}overrides.${label}`, `${label} is a group`, 'override elementary items (only when: applies to a group)');
      continue;
    }
    applyProps(item, props, defaults, () => [file, `${prefix}overrides.${label}`]);
  }
  try {
    return buildLayout(name, layout.items, defaults.sizing);
  } catch (err) {
    if (err instanceof LayoutError) throw new LayoutFileError(file, `${prefix}copybook`, err.message, 'correct the copybook');
    throw err;
  }
}

function pathIn(layout: RecordLayout, path: string[]): boolean {
  let items: Item[] = layout.items;
  for (const part of path) {
    const item = items.find((i) => i.name === part);
    if (!item) return false;
    items = item.kind === 'group' ? item.children : [];
  }
  return true;
}

const SIZE_FIX = "use 2-4-8 (IBM Enterprise COBOL, GnuCOBOL -std=ibm), 1-2-4-8 (GnuCOBOL's default) or 1--8 (Micro Focus, GnuCOBOL -std=mf), quoted or not";

/** The fix for a mistake in one of the top-level options, by key. */
const OPTION_FIXES: Record<string, string> = {
  binarySize: SIZE_FIX,
  comp5Size: `${SIZE_FIX}; or leave comp5Size out to size COMP-5 as binarySize`,
  pointerSize: "use 4 (IBM's 31-bit addressing) or 8 (64-bit GnuCOBOL and Micro Focus)",
  binary: 'use full, truncate or refuse',
  byteOrder: 'use big (IBM) or little (Micro Focus and GnuCOBOL on x86)',
  binaryByteOrder: 'use big (IBM; Micro Focus and GnuCOBOL COMP) or little (GnuCOBOL -fbinary-byteorder=native), or leave it out to follow byteOrder',
  float: 'use ibm or ieee',
  zonedSign: 'use ibm or ascii',
  delimiter: 'use none, lf, crlf or rdw',
};

/** Builds a record file spec from an already-parsed YAML value. */
export function recordFileSpec(raw: unknown, file: string, baseDir: string, overrides: { encoding?: string; delimiter?: Delimiter } = {}): RecordFileSpec {
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join('.');
    throw new LayoutFileError(file, key, issue.message, OPTION_FIXES[key] ?? 'see the layout file format at the top of src/records/layout-file.ts');
  }
  const spec = parsed.data;
  const encoding = overrides.encoding ?? spec.encoding;
  if (!isCodePage(encoding)) throw new LayoutFileError(file, 'encoding', `unknown code page "${encoding}"`, `use one of: ${CODE_PAGES.join(', ')}`);
  const sizing: Sizing = { binarySize: spec.binarySize, comp5Size: spec.comp5Size ?? spec.binarySize, pointerSize: spec.pointerSize };
  const defaults = { pivot: spec.pivot, truncate: spec.truncate, copyDirs: (spec.copybooks ?? []).map((d) => resolve(baseDir, d)), sizing };
  if (spec.dbcs !== undefined && !iconv.encodingExists(spec.dbcs))
    throw new LayoutFileError(file, 'dbcs', `unknown code page "${spec.dbcs}"`, 'use an iconv-lite encoding, e.g. shift_jis, gbk, big5, euc-kr');
  const data = {
    binary: spec.binary,
    byteOrder: spec.byteOrder,
    ...(spec.binaryByteOrder ? { binaryByteOrder: spec.binaryByteOrder } : {}),
    float: spec.float,
    zonedSign: spec.zonedSign,
    ...(spec.dbcs ? { dbcs: spec.dbcs } : {}),
  };
  const compile = (layout: RecordLayout) => compileRecord(layout, encoding, { data });
  const types: RecordTypeSpec[] = [];
  if (spec.records) {
    if (spec.fields || spec.copybook) throw new LayoutFileError(file, 'records', 'records and top-level fields/copybook are both given', 'put every record type under records:');
    for (const [name, r] of Object.entries(spec.records)) {
      const layout = layoutOf(r, name, file, `records.${name}`, baseDir, defaults);
      const role: RecordRole = r.role ?? (name === 'header' || name === 'trailer' ? name : 'detail');
      types.push({ name, role, code: r.code === undefined ? undefined : String(r.code), codec: compile(layout), checks: undefined });
    }
    for (const [name, r] of Object.entries(spec.records)) {
      if (!r.checks) continue;
      const t = types.find((x) => x.name === name)!;
      const counts = r.checks.counts === undefined ? types.filter((x) => x.role === 'detail').map((x) => x.name) : Array.isArray(r.checks.counts) ? r.checks.counts : [r.checks.counts];
      for (const c of counts)
        if (!types.some((x) => x.name === c)) throw new LayoutFileError(file, `records.${name}.checks.counts`, `no record type ${c}`, `use one of: ${types.map((x) => x.name).join(', ')}`);
      if (r.checks.count && !pathIn(t.codec.layout, [r.checks.count]))
        throw new LayoutFileError(file, `records.${name}.checks.count`, `no field ${r.checks.count} in record ${name}`, 'name a field of this record');
      const sums = Object.entries(r.checks.sums).map(([field, of]) => {
        const [type, ...path] = of.split('.');
        const target = types.find((x) => x.name === type);
        if (!target || path.length === 0 || !pathIn(target.codec.layout, path))
          throw new LayoutFileError(file, `records.${name}.checks.sums.${field}`, `"${of}" is not recordType.field`, `e.g. ${types.find((x) => x.role === 'detail')?.name ?? 'detail'}.<field>`);
        if (!pathIn(t.codec.layout, [field])) throw new LayoutFileError(file, `records.${name}.checks.sums.${field}`, `no field ${field} in record ${name}`, 'name a field of this record');
        return { field, type, path };
      });
      t.checks = { count: r.checks.count, counts, sums };
    }
    if (types.length > 1 && !spec.recordType)
      throw new LayoutFileError(file, 'recordType', `${types.length} record types but no recordType`, 'say where the record-type code is: recordType: { offset: 0, length: 1 }');
    if (types.length > 1)
      for (const t of types) if (t.code === undefined) throw new LayoutFileError(file, `records.${t.name}.code`, 'missing', 'give the record-type code of this record, e.g. code: D');
  } else {
    const layout = layoutOf(spec, spec.name ?? 'record', file, '', baseDir, defaults);
    types.push({ name: spec.name ?? 'record', role: 'detail', codec: compile(layout) });
  }
  const recordLength = Math.max(...types.map((t) => t.codec.layout.length));
  const delimiter = overrides.delimiter ?? spec.delimiter;
  if (spec.blocked && delimiter !== 'rdw') throw new LayoutFileError(file, 'blocked', `blocked applies to delimiter: rdw, not ${delimiter}`, 'remove blocked, or use delimiter: rdw');
  return { name: spec.name ?? file, source: file, encoding, delimiter, ...(spec.blocked ? { blocked: true } : {}), recordLength, recordType: spec.recordType, types };
}

/**
 * Reads a layout file: YAML (`.yaml`/`.yml`) or a bare copybook (anything else); `record` chooses the
 * 01 level of a bare copybook that has several.
 */
export function loadRecordFileSpec(path: string, overrides: { encoding?: string; delimiter?: Delimiter; record?: string } = {}, display = path): RecordFileSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LayoutFileError(display, '', 'cannot read the layout file', 'give the path of a .yaml layout or a .cpy copybook');
  }
  if (/\.ya?ml$/i.test(path)) {
    let raw: unknown;
    try {
      raw = parseYaml(text);
    } catch (err) {
      throw new LayoutFileError(display, '', `not valid YAML: ${(err as Error).message}`, 'correct the YAML');
    }
    return recordFileSpec(raw, display, dirname(path), overrides);
  }
  return recordFileSpec(
    { copybook: basename(path), ...(overrides.record === undefined ? {} : { record: overrides.record }), encoding: overrides.encoding ?? 'cp037', delimiter: overrides.delimiter ?? 'none' },
    display,
    dirname(resolve(path)),
  );
}
