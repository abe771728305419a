/**
 * ajv's validation errors as the fields a problem names (`body.lines[0].sku`, `response.id`), for
 * the request and the response checks alike.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { FieldError } from '../problem.ts';

export function ajvPathToField(prefix: string, instancePath: string): string {
  let out = prefix;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return out;
}

/**
 * ajv's errors as fields. An `if` error ("must match "then" schema", at the object) only says that
 * errors inside the `then` follow, which they do (a discriminator dispatches through if/then): it
 * names no field at fault and is left out, unless it is the only error.
 */
export function fieldErrors(prefix: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  const all = errors ?? [];
  const named = all.filter((e) => e.keyword !== 'if');
  return (named.length > 0 ? named : all).map((e) => {
    const extra =
      e.keyword === 'additionalProperties'
        ? `.${String((e.params as { additionalProperty?: string }).additionalProperty)}`
        : e.keyword === 'required'
          ? `.${String((e.params as { missingProperty?: string }).missingProperty)}`
          : '';
    return { field: ajvPathToField(prefix, e.instancePath) + extra, message: e.message ?? e.keyword };
  });
}
