/**
 * What a write answered, in a form that can be kept in the state store and given back as it was:
 * either a result (status, headers, body, which backend) or a problem (a 4xx answer such as 422).
 */
import type { Dispatched } from '../routing/dispatch.ts';
import type { Backend } from '../routing/route-table.ts';
import { storedProblem, type Problem, type FieldError } from '../problem.ts';

export type StoredResponse =
  | { kind: 'result'; status: number; headers: Record<string, string>; body: unknown; backend: Backend; adapter: string }
  | {
      kind: 'problem';
      status: number;
      typeName: string;
      title: string;
      detail?: string;
      errors?: FieldError[];
      headers: Record<string, string>;
      extensions: Record<string, unknown>;
    };

export function fromDispatched(d: Dispatched): StoredResponse {
  return { kind: 'result', status: d.result.status, headers: d.result.headers ?? {}, body: d.result.body, backend: d.backend, adapter: d.adapter };
}

export function fromProblem(p: Problem): StoredResponse {
  return { kind: 'problem', status: p.status, typeName: p.typeName, title: p.title, detail: p.detail, errors: p.errors, headers: p.headers, extensions: p.extensions };
}

/** Gives a stored answer back: a Dispatched, or throws the stored problem. `extraHeaders` are added to either. */
export function replay(s: StoredResponse, extraHeaders: Record<string, string>): Dispatched {
  if (s.kind === 'problem') {
    throw storedProblem(s.typeName, s.status, { detail: s.detail, errors: s.errors, headers: { ...s.headers, ...extraHeaders }, extensions: s.extensions });
  }
  return { result: { status: s.status, headers: { ...s.headers, ...extraHeaders }, body: s.body }, backend: s.backend, adapter: s.adapter };
}
