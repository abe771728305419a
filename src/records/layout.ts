/**
 * The record layout model shared by YAML layouts and COBOL copybooks: elementary fields and groups,
 * with offsets and sizes worked out here, OCCURS (fixed and DEPENDING ON), REDEFINES, FILLER and
 * level-88 conditions (an enum of named values). A record codec is compiled from it.
 */
import { byteSize, type Pic, type Usage } from './pic.ts';

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
  /** The OCCURS DEPENDING ON table, when there is one (always the record's last item). */
  odo?: { item: Item; counter: FieldItem; counterOffset: number };
}

export class LayoutError extends Error {}

/** Byte size of an item declared without offsets; groups are the sum of their children. */
function sizeItems(items: Item[]): number {
  let pos = 0;
  let end = 0;
  const byName = new Map<string, Item>();
  for (const item of items) {
    if (item.kind === 'group') item.size = sizeItems(item.children);
    else item.size = byteSize(item.pic, item.usage) + (item.signSeparate ? 1 : 0);
    if (item.kind === 'group' && item.size === 0) throw new LayoutError(`group ${item.label} has no fields`);
    if (item.redefines) {
      const target = byName.get(item.redefines.toUpperCase());
      if (!target) throw new LayoutError(`${item.label} REDEFINES ${item.redefines}, which is not an earlier item of the same group`);
      item.offset = target.offset;
      const span = item.size * (item.occurs?.max ?? 1);
      const targetSpan = target.size * (target.occurs?.max ?? 1);
      if (span > targetSpan) throw new LayoutError(`${item.label} (${span} bytes) is longer than ${target.label} (${targetSpan} bytes), which it redefines`);
    } else {
      item.offset = pos;
      pos += item.size * (item.occurs?.max ?? 1);
    }
    end = Math.max(end, item.offset + item.size * (item.occurs?.max ?? 1));
    byName.set(item.label.toUpperCase(), item);
    if (item.name) byName.set(item.name.toUpperCase(), item);
  }
  return end;
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

/** Works out offsets and sizes, checks REDEFINES and OCCURS DEPENDING ON, and returns the layout. */
export function buildLayout(name: string, items: Item[]): RecordLayout {
  if (items.length === 0) throw new LayoutError(`layout ${name} has no fields`);
  const length = sizeItems(items);
  const layout: RecordLayout = { name, items, length, minLength: length };
  const odos = findOdo(items, 0);
  if (odos.length > 1) throw new LayoutError(`layout ${name} has ${odos.length} OCCURS DEPENDING ON tables; one (the last item of the record) is supported`);
  if (odos.length === 1) {
    const { item, offset, isLast } = odos[0];
    const occurs = item.occurs!;
    if (!isLast || offset + item.size * occurs.max !== length) throw new LayoutError(`${item.label} OCCURS DEPENDING ON must be the last item of the record`);
    const counter = findField(items, occurs.dependingOn!, 0, false);
    if (!counter) throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: no such field in layout ${name}`);
    if (counter.inTable) throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: the counter must not be inside a table`);
    if (counter.field.pic.kind !== 'numeric') throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: the counter must be numeric`);
    if (counter.offset >= offset) throw new LayoutError(`${item.label} OCCURS DEPENDING ON ${occurs.dependingOn}: the counter must come before the table`);
    layout.odo = { item, counter: counter.field, counterOffset: counter.offset };
    layout.minLength = offset + item.size * occurs.min;
  }
  return layout;
}

/** `PROD-UNIT-PRICE` → `prodUnitPrice`. */
export function jsonName(cobolName: string): string {
  const parts = cobolName.toLowerCase().split(/[-_]+/).filter(Boolean);
  return parts.map((p, i) => (i === 0 ? p : p[0].toUpperCase() + p.slice(1))).join('');
}
