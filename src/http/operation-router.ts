/**
 * Finds the contract operation of a request: method and path against the contract's path
 * templates, literal segments before parameters (`/orders/batch` before `/orders/{orderId}`).
 * Compiled once from the contract; one lookup per request, with no regular expressions.
 */
import type { ContractOperation } from '../contract/contract.ts';

export type RouteMatch<T> =
  | { kind: 'found'; target: T; operation: ContractOperation; pathParams: Record<string, string> }
  /** The path is the contract's, the method is not: 405 with the allowed methods. */
  | { kind: 'method-not-allowed'; allow: string[] }
  /** A path parameter that is not valid percent-encoding. */
  | { kind: 'bad-path'; detail: string }
  | { kind: 'none' };

interface Template<T> {
  /** Literal segment text, or undefined where a parameter goes. */
  segments: (string | undefined)[];
  params: string[];
  byMethod: Map<string, { target: T; operation: ContractOperation }>;
}

export class OperationRouter<T> {
  private readonly templates: Template<T>[] = [];

  add(operation: ContractOperation, target: T): void {
    const parts = operation.path.split('/').slice(1);
    const segments = parts.map((p) => (/^\{[^}]+\}$/.test(p) ? undefined : p));
    const key = segments.map((s) => (s === undefined ? '{}' : s)).join('/');
    let template = this.templates.find((t) => t.segments.map((s) => (s === undefined ? '{}' : s)).join('/') === key);
    if (!template) {
      template = { segments, params: parts.filter((_, i) => segments[i] === undefined).map((p) => p.slice(1, -1)), byMethod: new Map() };
      this.templates.push(template);
      // Fewer parameters first: a literal segment wins over a parameter in the same place.
      this.templates.sort((a, b) => a.params.length - b.params.length);
    }
    template.byMethod.set(operation.method.toUpperCase(), { target, operation });
  }

  match(method: string, pathname: string): RouteMatch<T> {
    const parts = pathname.split('/');
    let allow: string[] | undefined;
    for (const t of this.templates) {
      if (t.segments.length !== parts.length - 1) continue;
      let ok = true;
      for (let i = 0; i < t.segments.length; i++) {
        const literal = t.segments[i];
        const part = parts[i + 1];
        if (literal === undefined ? part === '' : literal !== part) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      // HEAD is served as the GET of the same path (Node's server sends no body for it).
      const hit = t.byMethod.get(method) ?? (method === 'HEAD' ? t.byMethod.get('GET') : undefined);
      if (!hit) {
        allow ??= [...t.byMethod.keys()];
        continue;
      }
      const pathParams: Record<string, string> = {};
      let p = 0;
      for (let i = 0; i < t.segments.length; i++) {
        if (t.segments[i] !== undefined) continue;
        const raw = parts[i + 1];
        try {
          pathParams[t.params[p++]] = raw.includes('%') ? decodeURIComponent(raw) : raw;
        } catch {
          return { kind: 'bad-path', detail: `path parameter ${t.params[p - 1]} is not valid percent-encoding: ${raw}` };
        }
      }
      return { kind: 'found', target: hit.target, operation: hit.operation, pathParams };
    }
    return allow ? { kind: 'method-not-allowed', allow } : { kind: 'none' };
  }
}
