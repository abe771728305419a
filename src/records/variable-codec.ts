/**
 * The codec of a record whose items move with the counts of its OCCURS DEPENDING ON tables: more
 * than one table, or one that is not the record's last item. As IBM Enterprise COBOL places them,
 * every item after a table starts where the table's current occurrences end, so positions are worked
 * out record by record, walking the items in order (the counter is read before its table). Slower
 * than the fixed-offset codec, and used only for these layouts.
 *
 * A REDEFINES item is decoded where its `when` holds (the original otherwise); SYNCHRONIZED slack
 * bytes are those of the layout at its maximum.
 */
import type { CodePage } from './code-pages.ts';
import { FieldError, FieldFault } from './errors.ts';
import type { FieldItem, Item, RecordLayout } from './layout.ts';
import type { DataOptions, DecodedRecord, RecordCodec, ValueEncoder } from './record-codec.ts';

type ValueDecoder = (buf: Buffer, at: number) => unknown;

interface FieldCodecs {
  decoder(field: FieldItem): ValueDecoder;
  encoder(field: FieldItem): ValueEncoder;
}

/** Counter values seen so far (COBOL name and JSON name, upper case), and where each counter was written. */
interface Scope {
  counts: Map<string, number>;
  written: Map<string, { at: number; field: FieldItem }>;
}

const key = (s: string) => s.toUpperCase();

function fieldError(err: unknown, path: string, label: string, offset: number): FieldError {
  if (err instanceof FieldError) return err;
  return new FieldError(path, label, offset, err instanceof Error ? err.message : String(err));
}

export function compileVariable(layout: RecordLayout, page: CodePage, data: DataOptions, codecs: FieldCodecs): RecordCodec {
  const decoders = new Map<FieldItem, ValueDecoder>();
  const encoders = new Map<FieldItem, ValueEncoder>();
  const dec = (f: FieldItem) => {
    let d = decoders.get(f);
    if (!d) decoders.set(f, (d = codecs.decoder(f)));
    return d;
  };
  const enc = (f: FieldItem) => {
    let e = encoders.get(f);
    if (!e) encoders.set(f, (e = codecs.encoder(f)));
    return e;
  };

  const count = (item: Item, scope: Scope, path: string, offset: number): number => {
    const o = item.occurs;
    if (!o) return 1;
    if (!o.dependingOn) return o.max;
    const n = scope.counts.get(key(o.dependingOn));
    if (n === undefined || !Number.isInteger(n) || n < o.min || n > o.max)
      throw new FieldError(path, item.label, offset, `count ${String(n)} of ${o.dependingOn} for ${item.label} is outside OCCURS ${o.min} TO ${o.max}`);
    return n;
  };

  /** Decodes items from `pos`; returns where they end. */
  const decodeItems = (items: readonly Item[], buf: Buffer, pos: number, rs: number, out: DecodedRecord, scope: Scope, prefix: string): number => {
    const starts = new Map<string, number>();
    let p = pos;
    let end = pos;
    for (const item of items) {
      const at = item.redefines ? (starts.get(key(item.redefines)) ?? p) : p;
      starts.set(key(item.label), at);
      const path = `${prefix}${item.name || item.label}`;
      const chosen = !item.redefines
        ? !items.some((a) => a.redefines && key(a.redefines) === key(item.label) && a.when && a.when.equals.includes(out[a.when.field] as string | number))
        : item.when !== undefined && item.when.equals.includes(out[item.when.field] as string | number);
      const n = count(item, scope, path, at - rs);
      let q = at;
      const values: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const ipath = item.occurs ? `${path}[${i}]` : path;
        if (item.kind === 'field') {
          let v: unknown;
          try {
            v = dec(item)(buf, q);
          } catch (err) {
            throw fieldError(err, ipath, item.label, (err instanceof FieldFault ? err.at : q) - rs);
          }
          values.push(v);
          if (!item.occurs && typeof v === 'number') {
            scope.counts.set(key(item.label), v);
            if (item.name) scope.counts.set(key(item.name), v);
          }
          q += item.size;
        } else {
          const inner: DecodedRecord = {};
          q = decodeItems(item.children, buf, q, rs, inner, scope, `${ipath}.`);
          values.push(inner);
        }
      }
      if (item.name && chosen) out[item.name] = item.occurs ? values : values[0];
      if (!item.redefines) p = q;
      end = Math.max(end, q);
    }
    return end;
  };

  const encodeItems = (items: readonly Item[], buf: Buffer, pos: number, value: DecodedRecord, scope: Scope, report: (m: string) => void, prefix: string): number => {
    const starts = new Map<string, number>();
    let p = pos;
    let end = pos;
    for (const item of items) {
      const at = item.redefines ? (starts.get(key(item.redefines)) ?? p) : p;
      starts.set(key(item.label), at);
      const path = `${prefix}${item.name || item.label}`;
      const v = item.name ? value[item.name] : undefined;
      if (item.redefines && v === undefined) continue;
      if (!item.redefines && items.some((a) => a.redefines && key(a.redefines) === key(item.label) && a.name && value[a.name] !== undefined)) {
        // The alternative is written instead; the original only takes its room.
        const n = item.occurs?.dependingOn ? (scope.counts.get(key(item.occurs.dependingOn)) ?? item.occurs.max) : (item.occurs?.max ?? 1);
        p = at + item.size * n;
        end = Math.max(end, p);
        continue;
      }
      let n = item.occurs ? item.occurs.max : 1;
      const arr = item.occurs ? (v === undefined || v === null ? [] : v) : [v];
      if (!Array.isArray(arr)) throw new FieldError(path, item.label, at, `expected an array (OCCURS ${item.occurs!.max}), got ${typeof arr}`);
      if (item.occurs?.dependingOn) {
        const o = item.occurs;
        if (arr.length > o.max || arr.length < o.min) throw new FieldError(path, item.label, at, `${arr.length} items; OCCURS ${o.min} TO ${o.max}`);
        n = arr.length;
        const counter = scope.written.get(key(o.dependingOn!));
        if (!counter) throw new FieldError(path, item.label, at, `the counter ${o.dependingOn} was not written before the table`);
        try {
          enc(counter.field)(buf, counter.at, n, report);
        } catch (err) {
          throw fieldError(err, counter.field.name || counter.field.label, counter.field.label, counter.at);
        }
        scope.counts.set(key(o.dependingOn!), n);
      } else if (item.occurs && arr.length > n) throw new FieldError(path, item.label, at, `${arr.length} items; OCCURS allows at most ${n}`);
      let q = at;
      for (let i = 0; i < n; i++) {
        const ipath = item.occurs ? `${path}[${i}]` : path;
        if (item.kind === 'field') {
          try {
            enc(item)(buf, q, arr[i], (m) => report(`${ipath}: ${m}`));
          } catch (err) {
            throw fieldError(err, ipath, item.label, q);
          }
          if (!item.occurs) {
            scope.written.set(key(item.label), { at: q, field: item });
            if (item.name) scope.written.set(key(item.name), { at: q, field: item });
            if (typeof arr[i] === 'number') scope.counts.set(key(item.label), arr[i] as number);
          }
          q += item.size;
        } else {
          const obj = arr[i] === undefined || arr[i] === null ? {} : arr[i];
          if (typeof obj !== 'object' || Array.isArray(obj)) throw new FieldError(ipath, item.label, q, `expected an object (group ${item.label})`);
          q = encodeItems(item.children, buf, q, obj as DecodedRecord, scope, report, `${ipath}.`);
        }
      }
      if (!item.redefines) p = q;
      end = Math.max(end, q);
    }
    return end;
  };

  const newScope = (): Scope => ({ counts: new Map(), written: new Map() });
  return {
    layout,
    page,
    data,
    generated: false,
    decode(buf, start = 0) {
      const out: DecodedRecord = {};
      decodeItems(layout.items, buf, start, start, out, newScope(), '');
      return out;
    },
    lengthAt(buf, start) {
      return decodeItems(layout.items, buf, start, start, {}, newScope(), '') - start;
    },
    encode(value) {
      const bytes = Buffer.alloc(layout.length, page.space);
      const warnings: string[] = [];
      const used = encodeItems(layout.items, bytes, 0, value, newScope(), (m) => warnings.push(m), '');
      return { bytes, used, warnings };
    },
  };
}
