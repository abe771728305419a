/**
 * A flow's input, taken from the request (path parameters, query, body) as the binding says, and
 * checked against the flow's own input schema (the screen's limits: field lengths, formats) before
 * any browser is touched. What the screen cannot take is a 422 naming the request's field.
 */
import type { z } from 'zod';
import type { OperationRequest } from '../kind.ts';
import { PROBLEMS, Problem, type FieldError } from '../../problem.ts';

/** `flowField: where` with where one of `path.<name>`, `query.<name>`, `body.<name>` or `body`. */
export type InputMap = Record<string, string>;
export const INPUT_SOURCE = /^(path|query|body)(\.[A-Za-z0-9_$-]+)*$/;

function pick(req: OperationRequest, where: string): unknown {
  const [root, ...rest] = where.split('.');
  let v: unknown = root === 'path' ? req.pathParams : root === 'query' ? req.query : req.body;
  for (const part of rest) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** The flow's input, and for each of its fields the request field it came from (for error messages). */
export function buildInput(req: OperationRequest, map: InputMap | undefined): { input: Record<string, unknown>; sources: Record<string, string> } {
  const input: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  if (map) {
    for (const [field, where] of Object.entries(map)) {
      const v = pick(req, where);
      if (v !== undefined) input[field] = v;
      sources[field] = where;
    }
    return { input, sources };
  }
  const add = (obj: unknown, root: string) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (v === undefined) continue;
      input[k] = v;
      sources[k] = `${root}.${k}`;
    }
  };
  add(req.pathParams, 'path');
  add(req.query, 'query');
  add(req.body, 'body');
  return { input, sources };
}

/** Parses the input with the flow's schema; a value the screen cannot take is a 422 before the browser is touched. */
export function checkInput<I>(schema: z.ZodType<I>, input: Record<string, unknown>, sources: Record<string, string>, adapter: string): I {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const errors: FieldError[] = r.error.issues.map((issue) => {
    const [first, ...rest] = issue.path.map(String);
    const field = first === undefined ? 'body' : [sources[first] ?? first, ...rest].join('.');
    return { field, message: issue.message };
  });
  throw new Problem(PROBLEMS.unprocessable, {
    detail: `${adapter}: the legacy screen cannot take these values: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    errors,
    extensions: { source: adapter },
  });
}
