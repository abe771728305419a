/**
 * Reads an operation's parameters out of a request as the contract serialises them (OpenAPI
 * "style" and "explode": matrix, label, form, simple, spaceDelimited, pipeDelimited, deepObject;
 * `content`-encoded JSON parameters; `allowReserved`, `allowEmptyValue`), into plain values that
 * the request check then validates (and coerces) against each parameter's schema.
 *
 * A plan is made once per operation at start-up; per request the work is one pass over the query
 * pairs, the path values, the declared headers and the Cookie header.
 */
import type { ContractParameter, JsonSchema } from '../contract/contract.ts';
import type { FieldError } from '../problem.ts';

export type ParameterLocation = ContractParameter['in'];
type Shape = 'array' | 'object' | 'primitive';
type Style = 'matrix' | 'label' | 'form' | 'simple' | 'spaceDelimited' | 'pipeDelimited' | 'deepObject';

/** How one parameter is read. */
export interface ParameterPlan {
  name: string;
  in: ParameterLocation;
  style: Style;
  explode: boolean;
  shape: Shape;
  /** Properties of an object parameter (form/explode: each is its own query pair). */
  properties: string[];
  /** Properties typed as arrays (a single exploded value still makes an array). */
  arrayProperties: Set<string>;
  allowReserved: boolean;
  allowEmptyValue: boolean;
  /** `content: {application/json: ...}`: the value is JSON text. */
  json: boolean;
  /** The schema the value is checked against (the `content` one for content parameters). */
  schema: JsonSchema;
  required: boolean;
}

/**
 * Characters a query value must percent-encode unless its parameter says `allowReserved: true`.
 * The RFC 3986 reserved set less what real callers send unencoded in ordinary values and what the
 * styles use as delimiters: `,` (form lists), `:` and `/` (times, paths), `@` (addresses), `?`,
 * `+` (a space in form encoding), `&` and `#` (never reach a value). docs/openapi-validation.md.
 */
const RESERVED = /[!$'()*;=[\]]/;
/** Characters no URI may carry unencoded: a JSON (`content`) value must come percent-encoded. */
const NOT_URI = /["{}<>\\^`]/;

function typesOf(schema: JsonSchema): string[] {
  const t = schema.type;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/** Property names of an object schema, through allOf/oneOf/anyOf. */
function propertiesOf(schema: JsonSchema, into: Map<string, JsonSchema>, depth = 0): void {
  if (depth > 16) return;
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (props && typeof props === 'object') for (const [k, v] of Object.entries(props)) if (!into.has(k)) into.set(k, v);
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    const list = schema[key];
    if (Array.isArray(list)) for (const s of list) if (s && typeof s === 'object') propertiesOf(s as JsonSchema, into, depth + 1);
  }
}

function shapeOf(schema: JsonSchema, depth = 0): Shape {
  const types = typesOf(schema);
  if (types.includes('array')) return 'array';
  if (types.includes('object') || schema.properties !== undefined) return 'object';
  if (depth < 16) {
    for (const key of ['allOf', 'oneOf', 'anyOf']) {
      const list = schema[key];
      if (Array.isArray(list)) {
        for (const s of list) {
          if (s && typeof s === 'object') {
            const inner = shapeOf(s as JsonSchema, depth + 1);
            if (inner !== 'primitive') return inner;
          }
        }
      }
    }
  }
  return 'primitive';
}

function isJsonMedia(media: string): boolean {
  const type = media.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/** The plan of one parameter, from the contract's parameter object (its `raw` form). */
export function planParameter(p: ContractParameter): ParameterPlan {
  const raw = p.raw ?? {};
  const content = raw.content as Record<string, { schema?: JsonSchema }> | undefined;
  const contentMedia = content ? Object.keys(content)[0] : undefined;
  const json = contentMedia !== undefined && isJsonMedia(contentMedia);
  const schema = contentMedia !== undefined ? (p.contentSchema ?? {}) : p.schema;
  const style = (typeof raw.style === 'string' ? raw.style : p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple') as Style;
  const explode = typeof raw.explode === 'boolean' ? raw.explode : style === 'form';
  const props = new Map<string, JsonSchema>();
  propertiesOf(schema, props);
  return {
    name: p.in === 'header' ? p.name.toLowerCase() : p.name,
    in: p.in,
    style,
    explode,
    shape: json ? 'primitive' : shapeOf(schema),
    properties: [...props.keys()],
    arrayProperties: new Set([...props].filter(([, s]) => s && typeof s === 'object' && typesOf(s).includes('array')).map(([k]) => k)),
    allowReserved: raw.allowReserved === true,
    allowEmptyValue: raw.allowEmptyValue === true,
    json,
    schema,
    required: p.required,
  };
}

function decodeForm(s: string): string | undefined {
  if (s.indexOf('+') !== -1) s = s.replace(/\+/g, ' ');
  if (s.indexOf('%') === -1) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** `k1,v1,k2,v2` → `{k1: v1, k2: v2}`. */
function pairsToObject(parts: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] !== '__proto__') out[parts[i]] = parts[i + 1];
  return out;
}

/** `k1=v1<sep>k2=v2` → `{k1: v1, k2: v2}`. */
function assignmentsToObject(parts: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const k = eq === -1 ? part : part.slice(0, eq);
    if (k !== '__proto__') out[k] = eq === -1 ? '' : part.slice(eq + 1);
  }
  return out;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A value of the simple style (path and header parameters): `a,b,c`, `k,v,k,v` or `k=v,k=v`. */
function readSimple(plan: ParameterPlan, value: string): unknown {
  if (plan.shape === 'array') return value === '' ? [] : value.split(',');
  if (plan.shape === 'object') {
    if (value.startsWith('{')) return tryJson(value);
    const parts = value.split(',');
    return plan.explode ? assignmentsToObject(parts) : pairsToObject(parts);
  }
  return value;
}

/** A path value in its style (simple, label or matrix); undefined where it does not fit the style. */
export function readPathValue(plan: ParameterPlan, value: string): unknown {
  if (plan.json) return tryJson(value);
  if (plan.style === 'label') {
    if (!value.startsWith('.')) return undefined;
    const rest = value.slice(1);
    if (plan.shape === 'primitive') return rest;
    const parts = plan.explode ? rest.split('.') : rest.split(',');
    if (plan.shape === 'array') return rest === '' ? [] : parts;
    return plan.explode ? assignmentsToObject(parts) : pairsToObject(parts);
  }
  if (plan.style === 'matrix') {
    if (!value.startsWith(';')) return undefined;
    const parts = value.slice(1).split(';');
    if (plan.shape === 'object' && plan.explode) return assignmentsToObject(parts);
    const prefix = `${plan.name}=`;
    const values: string[] = [];
    for (const part of parts) {
      if (part === plan.name) values.push('');
      else if (part.startsWith(prefix)) values.push(part.slice(prefix.length));
      else return undefined;
    }
    if (plan.shape === 'primitive') return values[0];
    if (plan.shape === 'array') return plan.explode ? values : values.length === 0 || values[0] === '' ? [] : values[0].split(',');
    return pairsToObject((values[0] ?? '').split(','));
  }
  return readSimple(plan, value);
}

export function readHeaderValue(plan: ParameterPlan, value: string): unknown {
  return plan.json ? tryJson(value) : readSimple(plan, value);
}

/** A cookie value (form style): `a,b,c` or `k,v,k,v` unexploded; a plain value otherwise. */
export function readCookieValue(plan: ParameterPlan, value: string): unknown {
  if (plan.json) return tryJson(decodeForm(value) ?? value);
  if (plan.shape === 'array') return plan.explode ? [value] : value.split(',');
  if (plan.shape === 'object') return value.startsWith('{') ? tryJson(value) : pairsToObject(value.split(','));
  return value;
}

/** The Cookie header as name → value (the first of a repeated name wins, as browsers order them). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || name === '__proto__' || name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out[name] = decodeForm(value.replace(/\+/g, '%2B')) ?? value;
  }
  return out;
}

/** Turns `{0: a, 1: b}` into `[a, b]` where the schema wants an array (deepObject indices). */
function indexedToArrays(value: unknown, schema: JsonSchema | undefined): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  if (schema && typesOf(schema).includes('array')) {
    const keys = Object.keys(obj);
    if (keys.every((k) => /^\d+$/.test(k))) return keys.sort((a, b) => Number(a) - Number(b)).map((k) => obj[k]);
    return value;
  }
  const props = new Map<string, JsonSchema>();
  if (schema) propertiesOf(schema, props);
  for (const k of Object.keys(obj)) obj[k] = indexedToArrays(obj[k], props.get(k));
  return obj;
}

/** `name[a][b]` → `['a', 'b']` (undefined where the brackets are not well formed). */
function bracketPath(key: string, name: string): string[] | undefined {
  const path: string[] = [];
  let i = name.length;
  while (i < key.length) {
    if (key[i] !== '[') return undefined;
    const close = key.indexOf(']', i);
    if (close === -1) return undefined;
    const seg = key.slice(i + 1, close);
    if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') return undefined;
    path.push(seg);
    i = close + 1;
  }
  return path.length > 0 ? path : undefined;
}

function setDeep(target: Record<string, unknown>, path: string[], value: string): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node[path[i]];
    if (next && typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
    else {
      const created: Record<string, unknown> = {};
      node[path[i]] = created;
      node = created;
    }
  }
  const last = path[path.length - 1];
  const prev = node[last];
  node[last] = prev === undefined ? value : Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
}

const DELIMITERS: Partial<Record<Style, string>> = { form: ',', spaceDelimited: ' ', pipeDelimited: '|' };

/** The query parameters of one operation. */
export class QueryReader {
  private readonly byName = new Map<string, ParameterPlan>();
  /** Names that belong to an exploded form object: `?role=admin` for parameter `id` {role}. */
  private readonly explodedProps = new Map<string, ParameterPlan>();
  private readonly deepObjects: ParameterPlan[];

  constructor(
    private readonly plans: ParameterPlan[],
    private readonly operationId: string,
    /** Names neither refused nor read (an API key the contract's security takes in the query). */
    private readonly ignored: ReadonlySet<string> = new Set(),
  ) {
    for (const p of plans) this.byName.set(p.name, p);
    for (const p of plans) {
      if (p.shape === 'object' && p.style === 'form' && p.explode && !p.json) {
        for (const prop of p.properties) if (!this.byName.has(prop)) this.explodedProps.set(prop, p);
      }
    }
    this.deepObjects = plans.filter((p) => p.style === 'deepObject');
  }

  /** The declared parameters' values (undefined ones left out), and what is wrong with the query. */
  read(rawQuery: string, errors: FieldError[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (rawQuery === '') return out;
    const collected = new Map<string, string[]>();
    const exploded = new Map<ParameterPlan, Record<string, unknown>>();
    const deep = new Map<ParameterPlan, Record<string, unknown>>();
    for (const pair of rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
      const name = decodeForm(rawName);
      const value = decodeForm(rawValue);
      if (name === undefined || value === undefined) {
        errors.push({ field: `query.${rawName}`, message: 'is not well-formed percent-encoding' });
        continue;
      }
      if (this.ignored.has(name)) continue;
      const plan = this.byName.get(name);
      if (plan) {
        if (!plan.allowReserved && RESERVED.test(rawValue)) {
          errors.push({ field: `query.${name}`, message: 'has reserved characters that must be percent-encoded (the parameter does not say allowReserved: true)' });
          continue;
        }
        if (plan.json && NOT_URI.test(rawValue)) {
          errors.push({ field: `query.${name}`, message: 'is JSON that must be percent-encoded' });
          continue;
        }
        const list = collected.get(name);
        if (list) list.push(value);
        else collected.set(name, [value]);
        continue;
      }
      const owner = this.explodedProps.get(name);
      if (owner) {
        const obj = exploded.get(owner) ?? {};
        exploded.set(owner, obj);
        const prev = obj[name];
        obj[name] = prev === undefined ? (owner.arrayProperties.has(name) ? [value] : value) : Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
        continue;
      }
      const bracket = name.indexOf('[');
      if (bracket > 0) {
        const deepPlan = this.deepObjects.find((p) => p.name === name.slice(0, bracket));
        const path = deepPlan && bracketPath(name, deepPlan.name);
        if (deepPlan && path) {
          const obj = deep.get(deepPlan) ?? {};
          deep.set(deepPlan, obj);
          setDeep(obj, path, value);
          continue;
        }
      }
      if (name === '__proto__' || name === 'constructor' || name === 'prototype') {
        errors.push({ field: `query.${name.slice(0, 64)}`, message: `is not a query parameter of ${this.operationId}` });
        continue;
      }
      errors.push({ field: `query.${name}`, message: `is not a query parameter of ${this.operationId} (it takes: ${this.plans.map((p) => p.name).join(', ') || 'none'})` });
    }
    for (const [name, values] of collected) {
      const plan = this.byName.get(name) as ParameterPlan;
      if (!plan.allowEmptyValue && values.some((v) => v === '') && plan.shape !== 'array') {
        errors.push({ field: `query.${name}`, message: 'is empty (the parameter does not say allowEmptyValue: true)' });
        continue;
      }
      out[name] = this.value(plan, values);
    }
    for (const [plan, obj] of exploded) if (out[plan.name] === undefined) out[plan.name] = obj;
    for (const [plan, obj] of deep) out[plan.name] = indexedToArrays(obj, plan.schema);
    return out;
  }

  private value(plan: ParameterPlan, values: string[]): unknown {
    if (plan.json) return values.length === 1 ? tryJson(values[0]) : values.map(tryJson);
    if (plan.shape === 'array') {
      if (plan.explode && plan.style === 'form') return values;
      const delimiter = DELIMITERS[plan.style] ?? ',';
      return values.flatMap((v) => (v === '' ? [] : v.split(delimiter)));
    }
    if (plan.shape === 'object') {
      const v = values[0];
      if (v.startsWith('{')) return tryJson(v);
      if (plan.style === 'form' && !plan.explode) return pairsToObject(v.split(','));
      return v;
    }
    return values.length === 1 ? values[0] : values;
  }
}
