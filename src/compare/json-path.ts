/**
 * JSON paths as the comparator writes and reads them: `$.items[3].vip`, `$['odd key']`, and ignore
 * patterns with `[*]` (any index) and `.*` (any key) wildcards. A pattern also covers everything
 * below the node it names.
 */

export type Segment = string | number;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(segments: readonly Segment[]): string {
  let out = '$';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s)) out += `.${s}`;
    else out += `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out;
}

/** A wildcard segment of a pattern: `[*]` matches any index, `.*` any key. */
export const ANY_INDEX = Symbol('any index');
export const ANY_KEY = Symbol('any key');
export type PatternSegment = Segment | typeof ANY_INDEX | typeof ANY_KEY;

export class PathSyntaxError extends Error {}

/** Parses `$.a.b[2]['c d'][*].*` into segments; throws a PathSyntaxError naming the position. */
export function parsePath(path: string): PatternSegment[] {
  const text = path.trim();
  if (!text.startsWith('$')) throw new PathSyntaxError(`JSON path "${path}" must start with $ (e.g. $.items[*].updatedAt)`);
  const out: PatternSegment[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const m = /^(\*|[^.[\]]+)/.exec(text.slice(i + 1));
      if (!m) throw new PathSyntaxError(`JSON path "${path}": a key name is expected after "." at position ${i + 1}`);
      out.push(m[1] === '*' ? ANY_KEY : m[1]);
      i += 1 + m[1].length;
    } else if (c === '[') {
      const rest = text.slice(i);
      let m = /^\[(\d+|\*)\]/.exec(rest);
      if (m) {
        out.push(m[1] === '*' ? ANY_INDEX : Number(m[1]));
        i += m[0].length;
        continue;
      }
      m = /^\[(['"])((?:\\.|(?!\1).)*)\1\]/.exec(rest);
      if (!m) throw new PathSyntaxError(`JSON path "${path}": unreadable bracket at position ${i + 1} (use [3], [*] or ['key'])`);
      out.push(m[2].replace(/\\(.)/g, '$1'));
      i += m[0].length;
    } else {
      throw new PathSyntaxError(`JSON path "${path}": unexpected "${c}" at position ${i + 1}`);
    }
  }
  return out;
}

/** Replaces every array index of a concrete path by `[*]`: `$.items[3].vip` → `$.items[*].vip`. */
export function generalisePath(path: string): string {
  return path.replace(/\[\d+\]/g, '[*]');
}

function segmentMatches(p: PatternSegment, s: Segment): boolean {
  if (p === ANY_INDEX) return typeof s === 'number';
  if (p === ANY_KEY) return true;
  return p === s;
}

/**
 * A set of ignore patterns, matched incrementally while a document is walked: `step` gives the state
 * one level down, `covered` says whether the node (and so its whole subtree) is ignored.
 */
export class IgnoreSet {
  private readonly patterns: PatternSegment[][];
  /** Patterns that name something other than a body path (the comparator's `status`). */
  private readonly names: Set<string>;

  constructor(paths: readonly string[]) {
    this.names = new Set(paths.map((p) => p.trim()).filter((p) => p === 'status'));
    this.patterns = paths.filter((p) => p.trim() !== 'status').map(parsePath);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** The state at the root: every pattern alive at depth 0. */
  root(): IgnoreState {
    const alive = this.patterns.map((_, i) => i);
    return { alive, covered: this.patterns.some((p) => p.length === 0) };
  }

  step(state: IgnoreState, depth: number, segment: Segment): IgnoreState {
    if (state.covered) return state;
    const alive: number[] = [];
    let covered = false;
    for (const i of state.alive) {
      const p = this.patterns[i];
      if (!segmentMatches(p[depth], segment)) continue;
      if (p.length === depth + 1) covered = true;
      else alive.push(i);
    }
    return covered ? COVERED : alive.length === 0 ? NONE : { alive, covered: false };
  }

  matches(path: string): boolean {
    if (this.names.has(path)) return true;
    let segments: PatternSegment[];
    try {
      segments = parsePath(path);
    } catch {
      return false;
    }
    let state = this.root();
    for (let d = 0; d < segments.length && !state.covered && state.alive.length > 0; d++) {
      const s = segments[d];
      state = this.step(state, d, typeof s === 'symbol' ? (s === ANY_INDEX ? -1 : '*') : s);
    }
    return state.covered;
  }
}

export interface IgnoreState {
  alive: number[];
  covered: boolean;
}

export const NONE: IgnoreState = { alive: [], covered: false };
const COVERED: IgnoreState = { alive: [], covered: true };
