/**
 * Finds the contract operation of a request: method and path against the contract's path
 * templates. Compiled once from the contract; one lookup per request.
 *
 * - Every template the specification allows: a segment may be a literal (`/orders`), a parameter
 *   (`/{orderId}`), or literal text and parameters together (`/files/{name}.{ext}`,
 *   `/reports/{year}-{month}`, `/user_lookup:{name}`). Only the last kind uses a regular
 *   expression (compiled once); where the literal text between two parameters occurs more than once
 *   in a value, the earlier parameter takes as much as it can (`a.tar.gz` → name `a.tar`, ext `gz`).
 *   A parameter never matches an empty value or crosses a `/`.
 * - The most specific template wins, segment by segment from the left: a literal segment over one
 *   with literal text and parameters, that over a bare parameter (`/orders/batch` before
 *   `/orders/{orderId}`).
 * - Parameters are matched on the path as sent and then percent-decoded once (`ab%20cd` → `ab cd`,
 *   `ab%2Fcd` → `ab/cd`, one value; `%2520` → `%20`). Literal segments match as sent, or once decoded.
 * - A trailing slash: `/items/` is served as `/items` when the contract has no `/items/` of its
 *   own (as Express's default routing does); the contract's own `/items/` is matched exactly.
 */
import type { ContractOperation } from '../contract/contract.ts';

export type RouteMatch<T> =
  | { kind: 'found'; target: T; operation: ContractOperation; pathParams: Record<string, string> }
  /** The path is the contract's, the method is not: 405 with the allowed methods. */
  | { kind: 'method-not-allowed'; allow: string[] }
  /** A path parameter that is not valid percent-encoding. */
  | { kind: 'bad-path'; detail: string }
  | { kind: 'none' };

/** One segment of a template: literal text, a whole-segment parameter, or text and parameters together. */
type Segment = { kind: 'literal'; text: string } | { kind: 'param'; name: string } | { kind: 'pattern'; regex: RegExp; names: string[] };

interface Template<T> {
  key: string;
  segments: Segment[];
  /** Specificity, segment by segment: 0 literal, 1 pattern, 2 parameter. */
  rank: number[];
  byMethod: Map<string, { target: T; operation: ContractOperation }>;
}

const RANK = { literal: 0, pattern: 1, param: 2 } as const;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileSegment(text: string): Segment {
  if (!text.includes('{')) return { kind: 'literal', text };
  const whole = /^\{([^{}]+)\}$/.exec(text);
  if (whole) return { kind: 'param', name: whole[1] };
  const names: string[] = [];
  let source = '^';
  let last = 0;
  for (const m of text.matchAll(/\{([^{}]+)\}/g)) {
    source += escapeRegex(text.slice(last, m.index));
    source += '([^/]+)';
    names.push(m[1]);
    last = m.index + m[0].length;
  }
  source += `${escapeRegex(text.slice(last))}$`;
  return { kind: 'pattern', regex: new RegExp(source), names };
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function decodeOnce(raw: string): string {
  return raw.includes('%') ? decodeURIComponent(raw) : raw;
}

export class OperationRouter<T> {
  /** Templates by their number of segments, most specific first. */
  private readonly bySize = new Map<number, Template<T>[]>();

  add(operation: ContractOperation, target: T): void {
    const parts = operation.path.split('/').slice(1);
    const segments = parts.map(compileSegment);
    const key = parts.map((p) => p.replace(/\{[^{}]+\}/g, '{}')).join('/');
    let list = this.bySize.get(segments.length);
    if (!list) this.bySize.set(segments.length, (list = []));
    let template = list.find((t) => t.key === key);
    if (!template) {
      template = { key, segments, rank: segments.map((s) => RANK[s.kind]), byMethod: new Map() };
      list.push(template);
      list.sort((a, b) => compare(a.rank, b.rank));
    }
    template.byMethod.set(operation.method.toUpperCase(), { target, operation });
  }

  match(method: string, pathname: string): RouteMatch<T> {
    const exact = this.matchExact(method, pathname);
    if (exact.kind !== 'none' || pathname.length < 2 || !pathname.endsWith('/')) return exact;
    return this.matchExact(method, pathname.slice(0, -1));
  }

  private matchExact(method: string, pathname: string): RouteMatch<T> {
    const parts = pathname.split('/');
    const list = this.bySize.get(parts.length - 1);
    if (!list) return { kind: 'none' };
    let allow: string[] | undefined;
    for (const t of list) {
      if (!this.fits(t, parts)) continue;
      // HEAD is served as the GET of the same path (Node's server sends no body for it).
      const hit = t.byMethod.get(method) ?? (method === 'HEAD' ? t.byMethod.get('GET') : undefined);
      if (!hit) {
        allow ??= [...t.byMethod.keys()];
        continue;
      }
      const pathParams: Record<string, string> = {};
      for (let i = 0; i < t.segments.length; i++) {
        const s = t.segments[i];
        if (s.kind === 'literal') continue;
        const raw = parts[i + 1];
        const values = s.kind === 'param' ? [raw] : s.regex.exec(raw)!.slice(1);
        const names = s.kind === 'param' ? [s.name] : s.names;
        for (let j = 0; j < names.length; j++) {
          try {
            pathParams[names[j]] = decodeOnce(values[j]);
          } catch {
            return { kind: 'bad-path', detail: `path parameter ${names[j]} is not valid percent-encoding: ${values[j]}` };
          }
        }
      }
      return { kind: 'found', target: hit.target, operation: hit.operation, pathParams };
    }
    return allow ? { kind: 'method-not-allowed', allow } : { kind: 'none' };
  }

  private fits(t: Template<T>, parts: string[]): boolean {
    for (let i = 0; i < t.segments.length; i++) {
      const s = t.segments[i];
      const part = parts[i + 1];
      if (s.kind === 'literal') {
        if (s.text === part) continue;
        if (!part.includes('%')) return false;
        try {
          if (decodeURIComponent(part) !== s.text) return false;
        } catch {
          return false;
        }
      } else if (s.kind === 'param') {
        if (part === '') return false;
      } else if (!s.regex.test(part)) return false;
    }
    return true;
  }
}
