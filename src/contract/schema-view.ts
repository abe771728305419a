/**
 * A contract schema as one direction of an exchange sees it, made once at start-up for ajv:
 *
 * - requests: `readOnly` properties are refused and not required; responses: `writeOnly`
 *   properties are refused (or removed, `writeOnly: remove`) and not required. Both through
 *   two ajv keywords (`addSchemaViewKeywords`), so a property is judged wherever its schema is
 *   reached, through `$ref`s, `allOf` and arrays.
 * - `discriminator` with and without `mapping`: the discriminating property must name one of the
 *   mapped (or, unmapped, the schema-named) branches, and only that branch is checked; a child that
 *   is `allOf` a discriminated parent is checked as itself.
 * - OpenAPI 3.0's `nullable: true` becomes JSON Schema's `null` type.
 * - `$ref`s are followed; a schema that refers back to itself (a tree) goes into `$defs` once and
 *   is referred to there, so recursive schemas compile as references, never by endless inlining.
 *
 * The input may be a raw contract schema with local `$ref`s (resolved with `resolve`) or one
 * already dereferenced, cycles included.
 */
import type { KeywordDefinition, SchemaValidateFunction, Ajv } from 'ajv';
import type { Contract, JsonSchema } from './contract.ts';

export type Direction = 'request' | 'response';

export interface SchemaViewOptions {
  direction: Direction;
  /** In responses: refuse a writeOnly property (502) or remove it before the answer is sent. */
  writeOnly: 'refuse' | 'remove';
  /** OpenAPI 3.0 (`nullable`, boolean exclusive bounds) rather than 3.1's JSON Schema 2020-12. */
  openapi30: boolean;
  /** Resolves a `$ref` (`#/components/schemas/Pet`) to what it points at. */
  resolve(ref: string): unknown;
  /** `components.schemas`, to name branches of a discriminator and find a parent's children. */
  components: Record<string, unknown>;
}

const MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SINGLE = ['additionalProperties', 'items', 'additionalItems', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
const DATA = new Set(['enum', 'const', 'default', 'example', 'examples', 'discriminator', 'xml', 'externalDocs']);

type Node = Record<string, unknown>;

function isNode(x: unknown): x is Node {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** `components.schemas` as `deref` reads them (the same objects its `$ref`s resolve to). */
export function componentSchemasOf(contract: Contract): Record<string, unknown> {
  const components = contract.document.components as { schemas?: unknown } | undefined;
  if (!components || typeof components.schemas !== 'object' || components.schemas === null) return {};
  return (contract.deref({ $ref: '#/components/schemas' }) ?? {}) as Record<string, unknown>;
}

/** What the contract's schemas need to become views (see src/contract/schema-view.ts). */
export function viewOptionsOf(contract: Contract, direction: 'request' | 'response', writeOnly: 'refuse' | 'remove' = 'refuse'): SchemaViewOptions {
  const doc = contract.document;
  return {
    direction,
    writeOnly,
    openapi30: typeof doc.openapi === 'string' && doc.openapi.startsWith('3.0'),
    resolve: (ref) => contract.deref({ $ref: ref }),
    components: componentSchemasOf(contract),
  };
}

export const FORBIDDEN_KEYWORD = 'x-ficus-forbidden';
export const STRIP_KEYWORD = 'x-ficus-strip';

/** The keywords a view uses; add them to every ajv instance that compiles views. */
export function addSchemaViewKeywords(ajv: Ajv): void {
  const forbidden: SchemaValidateFunction = (schema: string) => {
    forbidden.errors = [
      {
        keyword: FORBIDDEN_KEYWORD,
        message: schema === 'readOnly' ? 'is read-only: the server sets it, leave it out of the request' : 'is write-only: it must not appear in a response',
        params: { flag: schema },
      },
    ];
    return false;
  };
  const strip: SchemaValidateFunction = (_schema: unknown, _data: unknown, _parent?: unknown, cxt?: { parentData?: unknown; parentDataProperty?: string | number }) => {
    if (cxt && isNode(cxt.parentData) && typeof cxt.parentDataProperty === 'string') delete cxt.parentData[cxt.parentDataProperty];
    return true;
  };
  const defs: KeywordDefinition[] = [
    { keyword: FORBIDDEN_KEYWORD, schemaType: 'string', errors: true, validate: forbidden },
    { keyword: STRIP_KEYWORD, schemaType: 'boolean', modifying: true, errors: false, validate: strip },
  ];
  for (const d of defs) if (!ajv.getKeyword(d.keyword as string)) ajv.addKeyword(d);
}

export function schemaView(schema: unknown, opts: SchemaViewOptions): JsonSchema {
  const out = new ViewBuilder(opts).build(schema);
  return out === true ? {} : out === false ? { not: {} } : out;
}

class ViewBuilder {
  private readonly recursive = new Set<object>();
  private readonly defNames = new Map<object, string>();
  private readonly defs: Record<string, JsonSchema | boolean> = {};
  private readonly names = new Map<object, string>();
  private readonly flag: 'readOnly' | 'writeOnly';

  constructor(private readonly opts: SchemaViewOptions) {
    this.flag = opts.direction === 'request' ? 'readOnly' : 'writeOnly';
    for (const [name, s] of Object.entries(opts.components)) if (isNode(s)) this.names.set(s, name);
  }

  build(schema: unknown): JsonSchema | boolean {
    this.findRecursive(schema, new Set(), new Set());
    const out = this.emit(schema, false);
    if (Object.keys(this.defs).length === 0) return out;
    if (typeof out === 'boolean') return out;
    // A root that is itself recursive is a $ref into $defs: wrap it so the $defs sit beside it.
    return out.$ref !== undefined ? { allOf: [out], $defs: this.defs } : { ...out, $defs: { ...(out.$defs as object | undefined), ...this.defs } };
  }

  /** Follows `$ref`s to the schema they name (and that name, if any). */
  private target(node: unknown): { node: unknown; name?: string } {
    let current = node;
    let name: string | undefined;
    for (let hops = 0; hops < 32 && isNode(current) && typeof current.$ref === 'string'; hops++) {
      const ref = current.$ref;
      name = ref.startsWith('#/components/schemas/') ? decodeURIComponent(ref.slice(21)).replace(/~1/g, '/').replace(/~0/g, '~') : name;
      current = this.opts.resolve(ref);
    }
    if (name === undefined && isNode(current)) name = this.names.get(current);
    return { node: current, name };
  }

  private findRecursive(node: unknown, onPath: Set<object>, done: Set<object>): void {
    if (Array.isArray(node)) {
      for (const x of node) this.findRecursive(x, onPath, done);
      return;
    }
    if (!isNode(node)) return;
    const t = typeof node.$ref === 'string' ? this.target(node).node : node;
    if (!isNode(t)) return;
    if (onPath.has(t)) {
      this.recursive.add(t);
      return;
    }
    if (done.has(t)) return;
    onPath.add(t);
    for (const [k, v] of Object.entries(t)) if (!DATA.has(k) && !k.startsWith('x-') && typeof v === 'object') this.findRecursive(v, onPath, done);
    if (t !== node) for (const [k, v] of Object.entries(node)) if (k !== '$ref' && !DATA.has(k) && typeof v === 'object') this.findRecursive(v, onPath, done);
    onPath.delete(t);
    done.add(t);
  }

  /** `asAllOfMember`: reached as a member of an allOf (a child's parent: no discriminator dispatch). */
  private emit(node: unknown, asAllOfMember: boolean, dropRequired?: Set<string>): JsonSchema | boolean {
    if (typeof node === 'boolean') return node;
    if (!isNode(node)) return {};
    if (typeof node.$ref === 'string') {
      const { node: t, name } = this.target(node);
      const body = this.emitTarget(t, name, asAllOfMember, dropRequired);
      const siblings = Object.keys(node).filter((k) => k !== '$ref' && k !== 'description' && k !== 'summary');
      if (siblings.length === 0 || this.opts.openapi30) return body;
      const rest: Node = {};
      for (const k of siblings) rest[k] = node[k];
      return { allOf: [body, this.emitObject(rest, false, dropRequired)] };
    }
    return this.emitTarget(node, this.names.get(node), asAllOfMember, dropRequired);
  }

  private emitTarget(t: unknown, name: string | undefined, asAllOfMember: boolean, dropRequired?: Set<string>): JsonSchema | boolean {
    if (typeof t === 'boolean') return t;
    if (!isNode(t)) return {};
    if (!this.recursive.has(t)) return this.emitObject(t, asAllOfMember, dropRequired);
    let def = this.defNames.get(t);
    if (def === undefined) {
      def = uniqueName(name ?? 'schema', this.defs);
      this.defNames.set(t, def);
      this.defs[def] = {};
      this.defs[def] = this.emitObject(t, asAllOfMember, undefined);
    }
    return { $ref: `#/$defs/${def}` };
  }

  private emitObject(t: Node, asAllOfMember: boolean, dropRequired?: Set<string>): JsonSchema {
    const out: JsonSchema = {};
    // The properties this direction must not require, across the whole allOf group.
    let drop = dropRequired;
    if (Array.isArray(t.allOf) || isNode(t.properties)) {
      const flagged = new Set(drop);
      this.collectFlagged(t, flagged, 0);
      drop = flagged.size > 0 ? flagged : undefined;
    }
    for (const [k, v] of Object.entries(t)) {
      if (MAPS.includes(k) && isNode(v)) {
        const m: Record<string, unknown> = {};
        for (const [pk, pv] of Object.entries(v)) m[pk] = this.emit(pv, false);
        out[k] = m;
      } else if (LISTS.includes(k) && Array.isArray(v)) {
        out[k] = v.map((x) => this.emit(x, k === 'allOf', k === 'allOf' ? drop : undefined));
      } else if (SINGLE.includes(k) && (isNode(v) || typeof v === 'boolean')) {
        out[k] = this.emit(v, false);
      } else if (k === 'items' && Array.isArray(v)) {
        out.prefixItems = v.map((x) => this.emit(x, false));
      } else if (k === 'required' && Array.isArray(v)) {
        out.required = drop ? v.filter((n) => !drop.has(String(n))) : v;
      } else if (k !== 'nullable' && k !== 'discriminator' && !(this.opts.openapi30 && (k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'boolean')) {
        out[k] = v;
      }
    }
    if (this.opts.openapi30) {
      for (const [flag, bound] of [
        ['exclusiveMinimum', 'minimum'],
        ['exclusiveMaximum', 'maximum'],
      ] as const) {
        if (t[flag] === true && typeof t[bound] === 'number') {
          out[flag] = t[bound];
          delete out[bound];
        }
      }
    }
    if (t[this.flag] === true) {
      if (this.opts.direction === 'request' || this.opts.writeOnly === 'refuse') out[FORBIDDEN_KEYWORD] = this.flag;
      else out[STRIP_KEYWORD] = true;
    }
    if (this.opts.openapi30 && t.nullable === true) this.makeNullable(out);
    const discriminator = t.discriminator;
    if (isNode(discriminator) && typeof discriminator.propertyName === 'string') this.discriminate(t, out, discriminator, asAllOfMember);
    return out;
  }

  private collectFlagged(node: unknown, into: Set<string>, depth: number): void {
    if (depth > 16 || !isNode(node)) return;
    const t = typeof node.$ref === 'string' ? this.target(node).node : node;
    if (!isNode(t)) return;
    if (isNode(t.properties)) {
      for (const [name, p] of Object.entries(t.properties)) {
        const pt = isNode(p) && typeof p.$ref === 'string' ? this.target(p).node : p;
        if ((isNode(p) && p[this.flag] === true) || (isNode(pt) && pt[this.flag] === true)) into.add(name);
      }
    }
    if (Array.isArray(t.allOf)) for (const m of t.allOf) this.collectFlagged(m, into, depth + 1);
  }

  private pinnedValues(node: unknown, prop: string, depth: number): string[] {
    const t = this.target(node).node;
    if (!isNode(t) || depth > 8) return [];
    const props = isNode(t.properties) ? t.properties : undefined;
    const p = props ? this.target(props[prop]).node : undefined;
    if (isNode(p)) {
      const values = [...stringsOf(p.enum), ...stringsOf(p.const)];
      if (values.length > 0) return values;
    }
    if (Array.isArray(t.allOf)) {
      for (const m of t.allOf) {
        const values = this.pinnedValues(m, prop, depth + 1);
        if (values.length > 0) return values;
      }
    }
    return [];
  }

  private makeNullable(out: JsonSchema): void {
    const type = out.type;
    if (typeof type === 'string') out.type = [type, 'null'];
    else if (Array.isArray(type) && !type.includes('null')) out.type = [...(type as string[]), 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
    if (type === undefined && (out.allOf || out.oneOf || out.anyOf || out.$ref)) {
      const inner: JsonSchema = { ...out };
      for (const k of Object.keys(out)) delete out[k];
      out.anyOf = [{ type: 'null' }, inner];
    }
  }

  /**
   * `discriminator`: the property's value picks the one branch that is checked. Branches are the
   * oneOf/anyOf members, or (on a parent without them) the schemas that are `allOf` it.
   */
  private discriminate(t: Node, out: JsonSchema, d: Node, asAllOfMember: boolean): void {
    const prop = d.propertyName as string;
    const mapping = isNode(d.mapping) ? (d.mapping as Record<string, unknown>) : {};
    const branches: { name: string | undefined; node: unknown }[] = [];
    const list = Array.isArray(t.oneOf) ? t.oneOf : Array.isArray(t.anyOf) ? t.anyOf : undefined;
    if (list) {
      for (const b of list) {
        const { node, name } = this.target(b);
        branches.push({ name, node });
      }
    } else {
      if (asAllOfMember) return;
      for (const [name, s] of Object.entries(this.opts.components)) {
        if (!isNode(s) || !Array.isArray(s.allOf)) continue;
        if (s.allOf.some((m) => this.target(m).node === t)) branches.push({ name, node: s });
      }
      if (branches.length === 0) return;
    }
    // value → branch: the mapping first; branches it does not name answer to their schema name.
    const byValue = new Map<string, unknown>();
    const mapped = new Set<unknown>();
    for (const [value, ref] of Object.entries(mapping)) {
      if (typeof ref !== 'string') continue;
      const target = this.target({ $ref: ref.includes('/') ? ref : `#/components/schemas/${ref}` }).node;
      byValue.set(value, target);
      mapped.add(target);
    }
    for (const b of branches) {
      if (mapped.has(b.node)) continue;
      // Implicitly a branch answers to its schema name; a branch that pins the property to values
      // of its own (enum or const) that leave its name out answers to those (as ajv's discriminator).
      const pinned = this.pinnedValues(b.node, prop, 0);
      const values = pinned.length > 0 && (b.name === undefined || !pinned.includes(b.name)) ? pinned : b.name !== undefined ? [b.name] : [];
      for (const v of values) if (!byValue.has(v)) byValue.set(v, b.node);
    }
    if (byValue.size === 0) return;
    // Group values by branch so each branch is compiled once.
    const groups = new Map<unknown, string[]>();
    for (const [value, node] of byValue) groups.set(node, [...(groups.get(node) ?? []), value]);
    delete out.oneOf;
    delete out.anyOf;
    const values = [...byValue.keys()];
    const dispatch: JsonSchema[] = [{ required: [prop], properties: { [prop]: { enum: values } } }];
    for (const [node, vals] of groups) {
      const branch = list ? this.emit(node, false) : this.emitObject(node as Node, false, undefined);
      dispatch.push({ if: { required: [prop], properties: { [prop]: { enum: vals } } }, then: branch });
    }
    out.allOf = [...((out.allOf as unknown[] | undefined) ?? []), ...dispatch];
  }
}

function stringsOf(x: unknown): string[] {
  return Array.isArray(x) ? x.filter((v): v is string => typeof v === 'string') : typeof x === 'string' ? [x] : [];
}

function uniqueName(base: string, taken: Record<string, unknown>): string {
  const clean = base.replace(/[^A-Za-z0-9_.-]/g, '_') || 'schema';
  let name = clean;
  for (let i = 2; name in taken; i++) name = `${clean}_${i}`;
  return name;
}
