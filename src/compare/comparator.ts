/**
 * The comparator: normalises two answers to the same request under the contract and reports how
 * they differ, as a structured list (path, legacy value, modern value). Shadow mode and replay both
 * use it.
 *
 * Contract-driven rules: `date-time` compared as an instant, `date` as a day, numbers as numbers
 * however written, strings with padding and runs of whitespace collapsed, key order irrelevant,
 * arrays marked `x-ficus-unordered: true` compared as multisets, properties marked
 * `x-ficus-ignore: true` skipped. The status is compared first (path `status`); when it differs the
 * bodies are not compared, since they answer different questions.
 */
import type { Contract, JsonSchema } from '../contract/contract.ts';
import { formatPath, IgnoreSet, NONE, type IgnoreState, type Segment } from './json-path.ts';
import { comparable, jsonType, numbersEqual, numericValue } from './normalise.ts';
import { schemaInfo, type SchemaInfo } from './schema-info.ts';

export interface Difference {
  /** Where: `$.items[3].vip` in the body, or `status`. */
  path: string;
  legacy: unknown;
  modern: unknown;
  /** `missing`: legacy has it, modern does not; `extra`: the other way round; `type`: different JSON types. */
  kind: 'changed' | 'missing' | 'extra' | 'type';
}

export interface CompareInput {
  status: number;
  body: unknown;
  /** Response headers (any case), compared only where `CompareOptions.headers` names them. */
  headers?: Record<string, string>;
}

export interface CompareOptions {
  /** JSON paths never compared, with `[*]` (any index) and `.*` (any key) wildcards, e.g. `$.items[*].updatedAt`. */
  ignore?: readonly string[];
  /** Response headers compared (`*`: every one), less `ignoreHeaders` and headers of one transfer (date, content-length, ...). */
  headers?: readonly string[];
  ignoreHeaders?: readonly string[];
}

/** Headers that describe one transfer or one call, never compared. */
const NEVER_COMPARED_HEADERS = ['date', 'age', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'server', 'via', 'x-request-id', 'ficus-backend'];

/** Problem members that are each call's own (requestId, instance) or human text (title, detail): never compared. */
const PROBLEM_TEXT = new Set(['title', 'detail', 'instance', 'requestId']);

function isProblem(body: unknown): body is Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { type?: unknown }).type === 'string';
}

function lowerKeys(h: Record<string, string> | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(h ?? {})) m.set(k.toLowerCase(), v);
  return m;
}

/** A header's value as compared: a media type without its parameters, any other value trimmed. */
function headerValue(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return name === 'content-type' ? v.split(';')[0].trim().toLowerCase() : v.trim();
}

export interface Comparison {
  equal: boolean;
  differences: Difference[];
}

/** The path of the status difference. */
export const STATUS_PATH = 'status';

interface Walk {
  ignore: IgnoreSet;
  path: Segment[];
  out: Difference[];
}

export class Comparator {
  private readonly ignoreSets = new Map<string, IgnoreSet>();

  constructor(private readonly contract: Contract) {}

  compare(operationId: string, legacy: CompareInput, modern: CompareInput, opts: CompareOptions = {}): Comparison {
    const ignore = this.ignoreSet(opts.ignore ?? []);
    const differences: Difference[] = [];
    if (legacy.status !== modern.status) {
      if (!ignore.matches(STATUS_PATH)) differences.push({ path: STATUS_PATH, legacy: legacy.status, modern: modern.status, kind: 'changed' });
      return { equal: differences.length === 0, differences };
    }
    if (opts.headers && opts.headers.length > 0) this.headers(legacy, modern, opts.headers, opts.ignoreHeaders ?? [], differences);
    const schema = this.schemaFor(operationId, legacy.status);
    let a = legacy.body;
    let b = modern.body;
    // Problem answers: compared by type, status and the fields the contract declares for them, not their text.
    if (legacy.status >= 400 && isProblem(a) && isProblem(b)) {
      a = this.problemFields(a, schema);
      b = this.problemFields(b, schema);
    }
    const info = schemaInfo(schema);
    const walk: Walk = { ignore, path: [], out: differences };
    const state = ignore.empty ? NONE : ignore.root();
    if (!state.covered) this.value(walk, state, info, a, b);
    return { equal: differences.length === 0, differences };
  }

  private problemFields(p: Record<string, unknown>, schema: JsonSchema | undefined): Record<string, unknown> {
    const declared = schema && typeof schema.properties === 'object' && schema.properties ? Object.keys(schema.properties) : [];
    const out: Record<string, unknown> = { type: p.type, status: p.status };
    for (const k of declared) if (!PROBLEM_TEXT.has(k) && p[k] !== undefined) out[k] = p[k];
    return out;
  }

  private headers(legacy: CompareInput, modern: CompareInput, names: readonly string[], ignore: readonly string[], out: Difference[]): void {
    const a = lowerKeys(legacy.headers);
    const b = lowerKeys(modern.headers);
    const skip = new Set([...NEVER_COMPARED_HEADERS, ...ignore.map((h) => h.toLowerCase())]);
    const wanted = names.includes('*') ? [...new Set([...a.keys(), ...b.keys()])].sort() : names.map((n) => n.toLowerCase());
    for (const name of wanted) {
      if (skip.has(name)) continue;
      const x = headerValue(name, a.get(name));
      const y = headerValue(name, b.get(name));
      if (x === y) continue;
      out.push({ path: `headers.${name}`, legacy: a.get(name), modern: b.get(name), kind: x === undefined ? 'extra' : y === undefined ? 'missing' : 'changed' });
    }
  }

  private schemaFor(operationId: string, status: number): JsonSchema | undefined {
    return this.contract.has(operationId) ? this.contract.responseSchema(operationId, status) : undefined;
  }

  private ignoreSet(paths: readonly string[]): IgnoreSet {
    const key = paths.join('\n');
    let set = this.ignoreSets.get(key);
    if (!set) {
      set = new IgnoreSet(paths);
      if (this.ignoreSets.size > 1000) this.ignoreSets.clear();
      this.ignoreSets.set(key, set);
    }
    return set;
  }

  private diff(w: Walk, kind: Difference['kind'], legacy: unknown, modern: unknown): void {
    w.out.push({ path: formatPath(w.path), legacy, modern, kind });
  }

  private child(w: Walk, state: IgnoreState, segment: Segment): IgnoreState {
    return state.alive.length === 0 ? NONE : w.ignore.step(state, w.path.length, segment);
  }

  private value(w: Walk, state: IgnoreState, info: SchemaInfo | undefined, a: unknown, b: unknown): void {
    // Normalisation is deterministic: the same scalar on both sides is equal, with no work.
    if (a === b && (a === null || typeof a !== 'object')) return;
    const ta = jsonType(a);
    const tb = jsonType(b);
    if (ta === 'object' && tb === 'object') return this.object(w, state, info, a as Record<string, unknown>, b as Record<string, unknown>);
    if (ta === 'array' && tb === 'array') {
      return info?.unordered ? this.unordered(w, state, info, a as unknown[], b as unknown[]) : this.ordered(w, state, info, a as unknown[], b as unknown[]);
    }
    if (ta === 'undefined' && tb === 'undefined') return;
    if (ta === 'undefined') return this.diff(w, 'extra', a, b);
    if (tb === 'undefined') return this.diff(w, 'missing', a, b);
    const ca = comparable(a, info);
    const cb = comparable(b, info);
    if (typeof ca === 'number' && typeof cb === 'number') {
      if (!numbersEqual(ca, cb)) this.diff(w, 'changed', a, b);
      return;
    }
    // Without a schema, a number written as a string still equals the number.
    if (!info && (typeof ca === 'number' || typeof cb === 'number')) {
      const na = typeof ca === 'string' ? numericValue(ca) : ca;
      const nb = typeof cb === 'string' ? numericValue(cb) : cb;
      if (typeof na === 'number' && typeof nb === 'number') {
        if (!numbersEqual(na, nb)) this.diff(w, 'changed', a, b);
        return;
      }
    }
    if (ca === cb) return;
    this.diff(w, jsonType(ca) === jsonType(cb) ? 'changed' : 'type', a, b);
  }

  private object(w: Walk, state: IgnoreState, info: SchemaInfo | undefined, a: Record<string, unknown>, b: Record<string, unknown>): void {
    const keys = Object.keys(a);
    for (const k of Object.keys(b)) if (!Object.hasOwn(a, k)) keys.push(k);
    keys.sort();
    for (const k of keys) {
      const childInfo = info?.property(k);
      if (childInfo?.ignore) continue;
      const childState = this.child(w, state, k);
      if (childState.covered) continue;
      w.path.push(k);
      this.value(w, childState, childInfo, a[k], b[k]);
      w.path.pop();
    }
  }

  private ordered(w: Walk, state: IgnoreState, info: SchemaInfo | undefined, a: unknown[], b: unknown[]): void {
    const items = info?.items();
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const childState = this.child(w, state, i);
      if (childState.covered) continue;
      w.path.push(i);
      if (i >= b.length) this.diff(w, 'missing', a[i], undefined);
      else if (i >= a.length) this.diff(w, 'extra', undefined, b[i]);
      else this.value(w, childState, items, a[i], b[i]);
      w.path.pop();
    }
  }

  /** Multiset comparison: each element is matched to an equal one of the other side, whatever its place. */
  private unordered(w: Walk, state: IgnoreState, info: SchemaInfo, a: unknown[], b: unknown[]): void {
    const items = info.items();
    // Ignore rules inside a set apply to every element alike: walk them with a wildcard index.
    const elementState = this.child(w, state, -1);
    if (elementState.covered) return;
    const pool = new Map<string, number[]>();
    b.forEach((v, j) => {
      const key = this.canonical(w, elementState, items, v, w.path.length + 1);
      const list = pool.get(key);
      if (list) list.push(j);
      else pool.set(key, [j]);
    });
    const unmatchedA: number[] = [];
    a.forEach((v, i) => {
      const list = pool.get(this.canonical(w, elementState, items, v, w.path.length + 1));
      if (list && list.length > 0) list.shift();
      else unmatchedA.push(i);
    });
    const unmatchedB = [...pool.values()].flat().sort((x, y) => x - y);
    for (const i of unmatchedA) {
      w.path.push(i);
      this.diff(w, 'missing', a[i], undefined);
      w.path.pop();
    }
    for (const j of unmatchedB) {
      w.path.push(j);
      this.diff(w, 'extra', undefined, b[j]);
      w.path.pop();
    }
  }

  /** A stable text of a value as the comparator sees it: normalised, keys sorted, ignored parts left out. */
  private canonical(w: Walk, state: IgnoreState, info: SchemaInfo | undefined, v: unknown, depth: number): string {
    const t = jsonType(v);
    if (t === 'array') {
      const items = info?.items();
      const parts = (v as unknown[]).map((x, i) => {
        const s = state.alive.length === 0 ? NONE : w.ignore.step(state, depth, i);
        return s.covered ? '' : this.canonical(w, s, items, x, depth + 1);
      });
      if (info?.unordered) parts.sort();
      return `[${parts.join(',')}]`;
    }
    if (t === 'object') {
      const o = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(o).sort()) {
        const ci = info?.property(k);
        if (ci?.ignore || o[k] === undefined) continue;
        const s = state.alive.length === 0 ? NONE : w.ignore.step(state, depth, k);
        if (s.covered) continue;
        parts.push(`${JSON.stringify(k)}:${this.canonical(w, s, ci, o[k], depth + 1)}`);
      }
      return `{${parts.join(',')}}`;
    }
    const c = comparable(v, info);
    return typeof c === 'number' ? String(c) : (JSON.stringify(c) ?? 'undefined');
  }
}

/**
 * The paths that differ between two answers of the same backend to the same request: noise, such as
 * timestamps of the moment or generated ids. Replay's `--baseline` and shadow mode ignore them.
 */
export function noisyPaths(c: Comparator, operationId: string, first: CompareInput, second: CompareInput): string[] {
  return [...new Set(c.compare(operationId, first, second).differences.map((d) => d.path))];
}
