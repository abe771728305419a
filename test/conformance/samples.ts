/**
 * Values that fit a JSON schema, for the conformance runner: request parameters and bodies that a
 * contract accepts, and answers an upstream would give. Small and deliberately plain: `example`,
 * `default`, `const` and `enum` first, then the type's simplest value that meets its bounds, a
 * string matching its `pattern` (randexp), and for a discriminated `oneOf` the name its branch goes by.
 *
 * One schema can be answered several ways (a `Choice`): which branch of a `oneOf`, whether optional
 * properties are filled in, whether the contract's own examples are used (some break their own
 * schema). The runner tries choices until a plain JSON Schema validator accepts the value.
 */
import { createRequire } from 'node:module';
import type RandExpClass from 'randexp';
import type { JsonSchema } from '../../src/contract/contract.ts';

/** randexp is CommonJS: its export is the class itself, which its typings call `default`. */
const RandExp = createRequire(import.meta.url)('randexp') as typeof RandExpClass.default;

type Deref = (node: unknown) => unknown;

/** Which of the ways to answer a schema (`PLAIN` is the plainest); others pick other branches and values. */
export interface Choice {
  /** The branch of every `oneOf`/`anyOf` met (modulo its length). */
  branch: number;
  /** Fill in optional properties below the top level (the top level's are always filled in unless `bare`). */
  optional: boolean;
  /** Leave out every optional property, the top level's too. */
  bare: boolean;
  /** Use the schema's `example`, `examples` and `default`. */
  examples: boolean;
  /** Seeds the strings generated for `pattern` (0: the shortest, first-alternative string). */
  seed: number;
}

export const PLAIN: Choice = { branch: 0, optional: false, bare: false, examples: true, seed: 0 };

/** Every choice, plainest first, for schemas whose `oneOf`s have at most `branches` branches. */
export function choices(branches = 4): Choice[] {
  const out: Choice[] = [];
  for (const examples of [true, false])
    for (let branch = 0; branch < branches; branch++)
      for (const [optional, bare] of [
        [false, false],
        [false, true],
        [true, false],
      ] as const)
        for (const seed of examples ? [0] : [0, 1, 2]) out.push({ branch, optional, bare, examples, seed });
  return out;
}

/** A string matching `pattern`: the shortest with the first alternatives (seed 0), or a seeded pseudo-random one. */
function matching(pattern: string, seed: number): string | undefined {
  try {
    const r = new RandExp(pattern);
    r.max = 8;
    let state = seed;
    r.randInt =
      seed === 0
        ? (a: number) => a
        : (a: number, b: number) => {
            state = (state * 1103515245 + 12345) % 2147483648;
            return a + (state % (b - a + 1));
          };
    r.defaultRange.subtract(0, 47).subtract(58, 64).subtract(91, 96).subtract(123, 0x10ffff);
    return r.gen();
  } catch {
    return undefined;
  }
}

/**
 * The names a discriminator gives a `oneOf` branch: the `mapping` keys naming it (by its `$ref`, by
 * the schema's name, or by `at`, the branch's own pointer, where bundling put the schema inline),
 * else the name of the schema its `$ref` points to; none for an inline branch no mapping names.
 */
export function discriminatorNames(disc: { mapping?: Record<string, string> }, ref: string | undefined, at?: string): string[] {
  const schemaName = ref?.split('/').pop();
  const mapped = Object.entries(disc.mapping ?? {})
    .filter(([, target]) => (ref !== undefined && (target === ref || target === schemaName)) || (at !== undefined && target === at))
    .map(([name]) => name);
  return mapped.length > 0 || schemaName === undefined ? mapped : [schemaName];
}

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-15T10:20:30.000Z',
  date: '2024-01-15',
  time: '10:20:30Z',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  email: 'someone@example.com',
  uri: 'https://example.com/a',
  'uri-reference': '/a',
  url: 'https://example.com/a',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  byte: 'AAAA',
  binary: 'x',
  password: 'secret',
};

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return (s.type as string[]).find((t) => t !== 'null') ?? 'null';
  if (typeof s.type === 'string') return s.type;
  if (s.properties || s.additionalProperties || s.required) return 'object';
  if (s.items || s.prefixItems) return 'array';
  return undefined;
}

/** A value valid for `schema` (as far as plain keywords go); `forResponse` leaves writeOnly out, else readOnly. */
function fits(value: unknown, s: JsonSchema): boolean {
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : undefined;
  if (!types) return value !== null;
  const t = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return types.some((x) => x === t || (x === 'integer' && Number.isInteger(value)) || (x === 'number' && t === 'number'));
}

/** `deref` resolves the contract's `$ref`s; a `#/$defs/...` of the top schema (a recursive one) is resolved here. */
export function sampleOf(schema: unknown, deref: Deref, forResponse: boolean, depth = 0, top?: JsonSchema, choice: Choice = PLAIN): unknown {
  const root = top ?? (schema as JsonSchema);
  const ref = schema && typeof schema === 'object' ? (schema as { $ref?: unknown }).$ref : undefined;
  const s = (typeof ref === 'string' && ref.startsWith('#/$defs/') ? (root.$defs as Record<string, unknown> | undefined)?.[ref.slice(8)] : deref(schema)) as JsonSchema | undefined;
  if (!s || typeof s !== 'object' || depth > 12) return undefined;
  if ('const' in s) return s.const;
  // Examples as written (YAML reads `+15017122661` as a number): only those of the schema's type.
  if (choice.examples) {
    if (Array.isArray(s.examples) && s.examples.length > 0 && fits(s.examples[0], s)) return s.examples[0];
    if (s.example !== undefined && fits(s.example, s)) return s.example;
    if (s.default !== undefined && fits(s.default, s)) return s.default;
  }
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum.find((v) => v !== null) ?? s.enum[0];
  if (Array.isArray(s.allOf)) {
    const parts = (s.allOf as unknown[]).map((p) => sampleOf(p, deref, forResponse, depth + 1, root, choice));
    const own = typeOf(s) === 'object' ? sampleOf({ ...s, allOf: undefined }, deref, forResponse, depth + 1, root, choice) : undefined;
    if (parts.every((p) => p && typeof p === 'object' && !Array.isArray(p))) return Object.assign({}, ...parts, own ?? {});
    return parts[0];
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    if (Array.isArray(s[key]) && (s[key] as unknown[]).length > 0) {
      const branches = s[key] as unknown[];
      const chosen = branches[choice.branch % branches.length];
      const base =
        typeOf(s) === 'object' ? (sampleOf({ ...s, [key]: undefined, discriminator: undefined }, deref, forResponse, depth + 1, root, choice) as Record<string, unknown> | undefined) : undefined;
      const picked = sampleOf(chosen, deref, forResponse, depth + 1, root, choice);
      const merged = base && picked && typeof picked === 'object' ? { ...base, ...picked } : picked;
      // A discriminated branch goes by its name (its mapping's key, else its schema's name).
      const disc = s.discriminator as { propertyName?: string; mapping?: Record<string, string> } | undefined;
      const ref = (chosen as { $ref?: unknown } | undefined)?.$ref;
      if (disc?.propertyName && typeof ref === 'string' && merged && typeof merged === 'object' && !Array.isArray(merged)) {
        return { ...(merged as Record<string, unknown>), [disc.propertyName]: discriminatorNames(disc, ref)[0] };
      }
      return merged;
    }
  }
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      for (const [name, p] of Object.entries(props)) {
        const ps = p as JsonSchema | undefined;
        const local = typeof ps?.$ref === 'string' && ps.$ref.startsWith('#/$defs/');
        const resolved = (local ? ps : deref(ps)) as JsonSchema | undefined;
        if (resolved && (forResponse ? resolved.writeOnly === true : resolved.readOnly === true)) continue;
        if (!required.has(name) && (choice.bare || (depth > 0 && !choice.optional))) continue;
        const v = sampleOf(ps, deref, forResponse, depth + 1, root, choice);
        if (v !== undefined) out[name] = v;
      }
      const disc = s.discriminator as { propertyName?: string; mapping?: Record<string, string> } | undefined;
      if (disc?.propertyName && out[disc.propertyName] === undefined && disc.mapping) out[disc.propertyName] = Object.keys(disc.mapping)[0];
      return out;
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      if (Array.isArray(s.prefixItems)) return (s.prefixItems as unknown[]).map((p) => sampleOf(p, deref, forResponse, depth + 1, root, choice));
      const item = sampleOf(s.items, deref, forResponse, depth + 1, root, choice);
      return Array.from({ length: Math.max(min, item === undefined ? 0 : 1) }, (_, i) => (typeof item === 'number' && s.uniqueItems ? item + i : item));
    }
    case 'integer':
    case 'number': {
      let n = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : 1;
      if (s.exclusiveMinimum === true) n += 1;
      if (typeof s.maximum === 'number' && n > s.maximum) n = s.maximum;
      if (typeof s.multipleOf === 'number') n = Math.ceil(n / s.multipleOf) * s.multipleOf;
      return n;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string': {
      const f = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
      if (f !== undefined) return f;
      const m = typeof s.pattern === 'string' ? matching(s.pattern, choice.seed) : undefined;
      if (m !== undefined) return m;
      const min = typeof s.minLength === 'number' ? s.minLength : 1;
      const max = typeof s.maxLength === 'number' ? s.maxLength : Math.max(min, 3);
      return 'abc'.padEnd(min, 'x').slice(0, Math.max(min, Math.min(3, max)));
    }
    default:
      return depth === 0 ? {} : 'x';
  }
}
