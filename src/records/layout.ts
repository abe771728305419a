/**
 * The record layout model shared by YAML layouts and COBOL copybooks: elementary fields and groups,
 * with offsets and sizes worked out here, OCCURS (fixed and DEPENDING ON), REDEFINES, FILLER and
 * level-88 conditions (an enum of named values). A record codec is compiled from it.
 */
import { byteSize, IBM_SIZING, syncAlignment, type Pic, type Sizing, type Usage } from './pic.ts';

export type DateFormat = 'YYYYMMDD' | 'YYMMDD' | 'CYYMMDD' | 'YYDDD' | 'YYYYDDD';
export const DATE_FORMATS: readonly DateFormat[] = ['YYYYMMDD', 'YYMMDD', 'CYYMMDD', 'YYDDD', 'YYYYDDD'];

export interface Occurs {
  min: number;
  max: number;
  /** The counter field (its name or COBOL name); it must come before the table, outside any table. */
  dependingOn?: string;
}

/** Decode a REDEFINES item instead of the one it redefines when a field decoded before it has one of these values. */
export interface When {
  field: string;
  equals: readonly (string | number)[];
}

export interface Condition {
  /** The enum value the field decodes to. */
  name: string;
  /** The raw values that mean it; the first is written when encoding. */
  values: readonly (string | number)[];
  /** `VALUE a THRU b` ranges (inclusive; text compared as the field's trimmed text). */
  ranges?: readonly (readonly [string | number, string | number])[];
  /** Hexadecimal literals (`X'F1'`), as hex digits: turned into text with the record's code page. */
  hex?: readonly string[];
}

interface ItemBase {
  /** The JSON key; '' for FILLER. */
  name: string;
  /** As declared (the COBOL name, or the YAML name), for messages. */
  label: string;
  occurs?: Occurs;
  redefines?: string;
  when?: When;
  /** Byte offset within the parent (group or record), filled in by `buildLayout`. */
  offset: number;
  /** Bytes of one occurrence. */
  size: number;
}

export interface FieldItem extends ItemBase {
  kind: 'field';
  pic: Pic;
  usage: Usage;
  /** A separate sign character ('+'/'-') leading or trailing; otherwise the sign is overpunched (zoned) or a nibble (packed). */
  signSeparate?: 'leading' | 'trailing';
  /** Overpunched sign on the first digit instead of the last. */
  signLeading?: boolean;
  date?: { format: DateFormat; pivot: number };
  justify: 'left' | 'right';
  truncate: 'refuse' | 'cut';
  conditions?: readonly Condition[];
  /** SYNCHRONIZED: binary, floating-point and pointer items are aligned on their size from the record's start (slack bytes before them). */
  sync?: boolean;
}

export interface GroupItem extends ItemBase {
  kind: 'group';
  children: Item[];
}

export type Item = FieldItem | GroupItem;

export interface RecordLayout {
  name: string;
  items: Item[];
  /** Bytes of the record at its longest (an OCCURS DEPENDING ON table at its maximum). */
  length: number;
  /** Bytes at its shortest (the same as length unless the record ends with an OCCURS DEPENDING ON table). */
  minLength: number;
  /** The OCCURS DEPENDING ON table, when there is one and it is the record's last item. */
  odo?: { item: Item; counter: FieldItem; counterOffset: number };
  /**
   * More than one OCCURS DEPENDING ON table, or one that is not at the end: the items after a table
   * move with its count, record by record (as IBM Enterprise COBOL places them), so the offsets
   * above are those of every table at its maximum and the codec works positions out per record.
   */
  variable?: boolean;
  /** The binary and pointer sizes the offsets were worked out with (IBM's when absent); a codec compiled from the layout reads the same widths. */
  sizing?: Sizing;
}

export class LayoutError extends Error {}

/**
 * Byte size of items declared without offsets; groups are the sum of their children. `base` is the
 * items' offset from the record's start, for SYNCHRONIZED alignment. A REDEFINES item may be longer
 * than the item it redefines (IBM Enterprise COBOL accepts that with a warning, as cb2xml, Cobrix and
 * JRecord do; GnuCOBOL refuses it): the group then takes the longer one's size.
 */
function sizeItems(items: Item[], base: number, sizing: Sizing): number {
  let pos = 0;
  let end = 0;
  const byName = new Map<string, Item>();
  for (const item of items) {
    const target = item.redefines ? byName.get(item.redefines.toUpperCase()) : undefined;
    if (item.redefines && !target) throw new LayoutError(`${item.label} REDEFINES ${item.redefines}, which is not an earlier item of the same group`);
    let at = target ? target.offset : pos;
    if (item.kind === 'field' && item.sync) {
      const align = syncAlignment(item.pic, item.usage, sizing);
      const abs = base + at;
      if (align > 1 && abs % align !== 0) at += align - (abs % align);
    }
    item.offset = at;
    if (item.kind === 'group') {
      item.size = sizeItems(item.children, base + at, sizing);
      const align = item.occurs && item.occurs.max > 1 ? maxSync(item.children, sizing) : 1;
      // Each occurrence of a table with synchronized items starts on the same alignment (IBM's slack bytes between occurrences).
      if (align > 1 && item.size % align !== 0) item.size += align - (item.size % align);
    } else item.size = byteSize(item.pic, item.usage, sizing) + (item.signSeparate ? 1 : 0);
    if (item.kind === 'group' && item.size === 0) throw new LayoutError(`group ${item.label} has no fields`);
    // The next item starts after the longest of an item and its redefinitions (IBM, GnuCOBOL -std=ibm, cb2xml agree).
    pos = target ? Math.max(pos, at + item.size * (item.occurs?.max ?? 1)) : at + item.size * (item.occurs?.max ?? 1);
    end = Math.max(end, item.offset + item.size * (item.occurs?.max ?? 1));
    byName.set(item.label.toUpperCase(), item);
    if (item.name) byName.set(item.name.toUpperCase(), item);
  }
  return end;
}

function maxSync(items: readonly Item[], sizing: Sizing): number {
  let m = 1;
  for (const item of items) {
    if (item.kind === 'group') m = Math.max(m, maxSync(item.children, sizing));
    else if (item.sync) m = Math.max(m, syncAlignment(item.pic, item.usage, sizing));
  }
  return m;
}

function findField(items: Item[], name: string, base: number, insideTable: boolean): { field: FieldItem; offset: number; inTable: boolean } | undefined {
  const upper = name.toUpperCase();
  for (const item of items) {
    const inTable = insideTable || item.occurs !== undefined;
    if (item.kind === 'field' && (item.label.toUpperCase() === upper || item.name.toUpperCase() === upper)) return { field: item, offset: base + item.offset, inTable };
    if (item.kind === 'group') {
      const hit = findField(item.children, name, base + item.offset, inTable);
      if (hit) return hit;
    }
  }
  return undefined;
}

function findOdo(items: Item[], base: number): { item: Item; offset: number; isLast: boolean }[] {
  const out: { item: Item; offset: number; isLast: boolean }[] = [];
  items.forEach((item, i) => {
    const isLast = i === items.length - 1;
    if (item.occurs?.dependingOn) out.push({ item, offset: base + item.offset, isLast });
    if (item.kind === 'group') for (const inner of findOdo(item.children, base + item.offset)) out.push({ ...inner, isLast: inner.isLast && isLast && !item.occurs });
  });
  return out;
}

/**
 * Works out offsets and sizes, checks REDEFINES and OCCURS DEPENDING ON, and returns the layout.
 * `sizing`: the binary and pointer sizes of the COBOL that wrote the file (IBM's by default).
 */
export function buildLayout(name: string, items: Item[], sizing: Sizing = IBM_SIZING): RecordLayout {
  if (items.length === 0) throw new LayoutError(`layout ${name} has no fields`);
  const length = sizeItems(items, 0, sizing);
  const layout: RecordLayout = { name, items, length, minLength: length, ...(sameSizing(sizing, IBM_SIZING) ? {} : { sizing }) };
  const odos = findOdo(items, 0);
  for (const { item, offset } of odos) {
    const occurs = item.occurs!;
    const counter = findField(items, occurs.dependingOn!, 0, false) ?? findField(items, occurs.dependingOn!, 0, true);
    if (!counter) throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: no such field in layout ${name}`);
    if (counter.field.pic.kind !== 'numeric') throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: the counter must be numeric`);
    if (counter.offset >= offset) throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: the counter must come before the table`);
  }
  if (odos.length === 1) {
    const { item, offset, isLast } = odos[0];
    const occurs = item.occurs!;
    const counter = findField(items, occurs.dependingOn!, 0, false);
    if (isLast && offset + item.size * occurs.max === length && counter && !counter.inTable) {
      layout.odo = { item, counter: counter.field, counterOffset: counter.offset };
      layout.minLength = offset + item.size * occurs.min;
      return layout;
    }
  }
  if (odos.length > 0) {
    layout.variable = true;
    layout.minLength = minSize(items);
  }
  return layout;
}

function sameSizing(a: Sizing, b: Sizing): boolean {
  return a.binarySize === b.binarySize && a.comp5Size === b.comp5Size && a.pointerSize === b.pointerSize;
}

/** The size of items with every OCCURS DEPENDING ON table at its minimum. */
function minSize(items: readonly Item[]): number {
  let pos = 0;
  let end = 0;
  for (const item of items) {
    const one = item.kind === 'group' ? (item.children.some((c) => c.occurs?.dependingOn || c.kind === 'group') ? minSize(item.children) : item.size) : item.size;
    const n = item.occurs?.dependingOn ? item.occurs.min : (item.occurs?.max ?? 1);
    const at = item.redefines ? pos - 0 : pos;
    if (!item.redefines) pos = at + one * n;
    end = Math.max(end, pos);
  }
  return end;
}

/** `PROD-UNIT-PRICE` → `prodUnitPrice`. */
export function jsonName(cobolName: string): string {
  const parts = cobolName.toLowerCase().split(/[-_]+/).filter(Boolean);
  return parts.map((p, i) => (i === 0 ? p : p[0].toUpperCase() + p.slice(1))).join('');
}
