/**
 * Each OpenAPI version's schema rules in the one form the validators use (JSON Schema 2020-12):
 * - 3.0: `nullable: true` becomes a `null` type (or `anyOf` with one), boolean
 *   `exclusiveMinimum`/`exclusiveMaximum` beside `minimum`/`maximum` become the numeric bounds.
 * - 3.1: schemas are 2020-12 already; the 3.0 habits of documents converted from 3.0 (a boolean
 *   `exclusiveMaximum`, `nullable: true`) are read the 3.0 way, as their authors meant, and each is
 *   announced with its place so that it can be corrected; never left to crash ajv or to be ignored.
 * Examples, defaults, enums, consts and extensions are values, not schemas: never rewritten.
 */
export type OpenApiVersion = '3.0' | '3.1';

export interface DialectNotice {
  /** JSON pointer of the schema in the (bundled) document. */
  pointer: string;
  message: string;
}

const VALUES = new Set(['example', 'examples', 'default', 'enum', 'const']);
const NAMED = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'schemas',
  'dependentSchemas',
  'paths',
  'responses',
  'content',
  'parameters',
  'headers',
  'requestBodies',
  'securitySchemes',
  'links',
  'callbacks',
  'pathItems',
  'webhooks',
  'encoding',
]);

function esc(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

function exclusiveBound(node: Record<string, unknown>, key: 'exclusiveMinimum' | 'exclusiveMaximum', bound: 'minimum' | 'maximum'): boolean {
  const v = node[key];
  if (typeof v !== 'boolean') return false;
  if (v && typeof node[bound] === 'number') {
    node[key] = node[bound];
    delete node[bound];
  } else delete node[key];
  return true;
}

/** Rewrites `document` (a copy the caller owns) in place; returns what was read leniently. */
export function normalizeSchemas(document: unknown, version: OpenApiVersion): DialectNotice[] {
  const notices: DialectNotice[] = [];
  /** `named`: the node maps names to schemas (`properties`, `schemas`, ...): its keys are names, not keywords. */
  const walk = (node: unknown, pointer: string, named = false): void => {
    if (Array.isArray(node)) {
      node.forEach((x, i) => walk(x, `${pointer}/${i}`));
      return;
    }
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    for (const [k, v] of Object.entries(n)) {
      if (!named && (VALUES.has(k) || k.startsWith('x-'))) continue;
      walk(v, `${pointer}/${esc(k)}`, !named && NAMED.has(k));
    }
    if (named) return;
    for (const [key, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      const before = n[key];
      if (typeof before === 'boolean' && exclusiveBound(n, key, bound) && version === '3.1') {
        notices.push({
          pointer,
          message: `${key}: ${String(before)} is OpenAPI 3.0 style; in 3.1 (JSON Schema 2020-12) ${key} is the bound itself. Read as ${before && n[key] !== undefined ? `${key}: ${String(n[key])}` : `no ${key}`}; write that in the document`,
        });
      }
    }
    if (typeof n.nullable === 'boolean') {
      const nullable = n.nullable;
      delete n.nullable;
      if (nullable) {
        if (typeof n.type === 'string') {
          n.type = [n.type, 'null'];
          if (Array.isArray(n.enum) && !n.enum.includes(null)) n.enum = [...(n.enum as unknown[]), null];
        } else if (n.type === undefined && ('allOf' in n || 'oneOf' in n || 'anyOf' in n || '$ref' in n)) {
          const rest = { ...n };
          for (const k of Object.keys(n)) delete n[k];
          n.anyOf = [rest, { type: 'null' }];
        }
        if (version === '3.1') {
          notices.push({ pointer, message: `nullable: true is OpenAPI 3.0 style; 3.1 has no nullable keyword. Read as a null type allowed; write type: [<type>, 'null'] in the document` });
        }
      }
    }
  };
  walk(document, '');
  return notices;
}
