/**
 * The contract: openapi.yaml (OpenAPI 3.0 or 3.1, one file or several), loaded once and indexed by
 * operationId. Everything that needs to know what an operation looks like (the router, kinds, the
 * comparator, the recorder) asks this module. `Contract.open` is the start-up path: it bundles the
 * document's files (contract-loader.ts) and checks it against the OpenAPI schema; `Contract.load`
 * reads one self-contained file, for tools and tests.
 *
 * Schemas are given to the validators in JSON Schema 2020-12 (schema-dialect.ts reads 3.0's rules
 * into it), with `$ref`s resolved inline except where a schema refers back to itself (a tree): there
 * the reference stays, to a `$defs` entry of the same schema, and ajv follows it.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { derivedOperationId, parseOperationKey } from './operation-names.ts';
import { normalizeSchemas, type DialectNotice, type OpenApiVersion } from './schema-dialect.ts';

export type JsonSchema = { [key: string]: unknown };
export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
const METHODS: readonly HttpMethod[] = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const SAFE: ReadonlySet<HttpMethod> = new Set(['get', 'head', 'options']);

export interface ContractParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
  /** The parameter object as written (`style`, `explode`, `content`, `allowReserved`, `example`, ...). */
  raw: Record<string, unknown>;
  /** The schema of a `content`-encoded parameter (its one media type's), dereferenced. */
  contentSchema?: JsonSchema;
}

export interface ContractOperation {
  operationId: string;
  /** Whether the document gave the operationId, or Ficus derived it (`get /streams/{id}` → `getStreamsById`). */
  derivedId: boolean;
  method: HttpMethod;
  /** The OpenAPI path template, e.g. `/customers/{customerId}`. */
  path: string;
  /** GET, HEAD and OPTIONS: safe to retry, shadow and replay. */
  safe: boolean;
  parameters: ContractParameter[];
  requestBodySchema: JsonSchema | undefined;
  /** Response schemas by status code ('200', '404', 'default'), dereferenced. */
  responses: Record<string, JsonSchema | undefined>;
  /** The operation object itself, with any `x-ficus-*` extensions. */
  raw: Record<string, unknown>;
}

/** The schema of a parameter given by `content` (its single media type's). */
function contentSchemaOf(p: Record<string, unknown>, deref: (s: unknown) => JsonSchema): JsonSchema | undefined {
  const content = p.content as Record<string, { schema?: unknown }> | undefined;
  if (!content || typeof content !== 'object') return undefined;
  const first = Object.values(content)[0];
  return first?.schema === undefined ? {} : deref(first.schema);
}

export interface ContractOptions {
  /** The document's version, when the caller checked it; else read from `openapi`. */
  version?: OpenApiVersion;
}

/** `3.0` or `3.1` from the `openapi` field; anything else is refused with what is supported. */
export function versionOf(doc: Record<string, unknown>, file: string): OpenApiVersion {
  const v = doc.openapi;
  if (typeof v === 'string' && /^3\.0\.\d+/.test(v)) return '3.0';
  if (typeof v === 'string' && /^3\.1\.\d+/.test(v)) return '3.1';
  if (typeof doc.swagger === 'string') throw new Error(`${file}: a Swagger ${doc.swagger} document; Ficus reads OpenAPI 3.0 and 3.1 (convert it, e.g. with swagger2openapi)`);
  throw new Error(`${file}: "openapi: ${String(v)}" is not a version Ficus reads; it reads OpenAPI 3.0.x and 3.1.x`);
}

export class Contract {
  /** The document as written (bundled into one when it spans files). */
  readonly document: Record<string, unknown>;
  readonly file: string;
  readonly version: OpenApiVersion;
  /** What loading read leniently or made up (derived operationIds): to be announced at start-up. */
  readonly notices: string[] = [];
  /** Schema locations read leniently, by JSON pointer (contract-loader.ts places them in files). */
  readonly dialectNotices: DialectNotice[];
  /** The document with its schemas in JSON Schema 2020-12 (what deref and the validators read). */
  private readonly normalized: Record<string, unknown>;
  private readonly operations = new Map<string, ContractOperation>();
  private readonly byRoute = new Map<string, string>();

  constructor(document: Record<string, unknown>, file = 'openapi.yaml', opts: ContractOptions = {}) {
    this.document = document;
    this.file = file;
    this.version = opts.version ?? (typeof document.openapi === 'string' ? versionOf(document, file) : '3.1');
    this.normalized = structuredClone(document);
    this.dialectNotices = normalizeSchemas(this.normalized, this.version);
    const paths = (this.normalized.paths ?? {}) as Record<string, unknown>;
    const pending: { path: string; method: HttpMethod; op: Record<string, unknown>; shared: unknown[] }[] = [];
    for (const [path, rawItem] of Object.entries(paths)) {
      // A path item may itself be a $ref (to components.pathItems in 3.1, or to another file, bundled).
      const item = this.deref(rawItem) as Record<string, unknown> | undefined;
      if (!item || typeof item !== 'object') continue;
      const shared = (item.parameters ?? []) as unknown[];
      for (const method of METHODS) {
        const op = item[method] as Record<string, unknown> | undefined;
        if (op && typeof op === 'object') pending.push({ path, method, op, shared });
      }
    }
    const shown = displayPath(file);
    const taken = new Set(pending.map((p) => p.op.operationId).filter((id): id is string => typeof id === 'string'));
    const used = new Set<string>();
    for (const { path, method, op, shared } of pending) {
      let operationId = typeof op.operationId === 'string' && op.operationId !== '' ? op.operationId : undefined;
      let derivedId = false;
      if (operationId !== undefined && used.has(operationId)) {
        const other = operationId;
        operationId = this.uniqueId(derivedOperationId(method, path), taken, used);
        derivedId = true;
        this.notices.push(
          `${shown}: operationId "${other}" is used by more than one operation; ${method.toUpperCase()} ${path} is named "${operationId}" (bind it by that name or as "${method.toUpperCase()} ${path}")`,
        );
      } else if (operationId === undefined) {
        operationId = this.uniqueId(derivedOperationId(method, path), taken, used);
        derivedId = true;
        this.notices.push(`${shown}: ${method.toUpperCase()} ${path} has no operationId; it is named "${operationId}" (bind it by that name or as "${method.toUpperCase()} ${path}")`);
      }
      used.add(operationId);
      this.byRoute.set(`${method.toUpperCase()} ${path}`, operationId);
      this.operations.set(operationId, this.operationOf(operationId, derivedId, method, path, op, shared));
    }
  }

  private uniqueId(base: string, taken: ReadonlySet<string>, used: ReadonlySet<string>): string {
    let id = base;
    for (let n = 2; taken.has(id) || used.has(id); n++) id = `${base}${n}`;
    return id;
  }

  private operationOf(operationId: string, derivedId: boolean, method: HttpMethod, path: string, op: Record<string, unknown>, shared: unknown[]): ContractOperation {
    // Operation-level parameters override path-level ones of the same name and place.
    const byKey = new Map<string, Record<string, unknown>>();
    for (const p of [...shared, ...((op.parameters ?? []) as unknown[])]) {
      const param = this.deref(p) as Record<string, unknown>;
      byKey.set(`${String(param.in)} ${String(param.name)}`, param);
    }
    const params = [...byKey.values()];
    const body = this.deref(op.requestBody) as Record<string, unknown> | undefined;
    const bodyContent = body?.content as Record<string, { schema?: unknown }> | undefined;
    const responses: Record<string, JsonSchema | undefined> = {};
    for (const [status, resp] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
      const r = this.deref(resp) as Record<string, unknown>;
      const content = r.content as Record<string, { schema?: unknown }> | undefined;
      const media = content?.['application/json'] ?? content?.['application/problem+json'];
      responses[status] = media?.schema === undefined ? undefined : (this.derefDeep(media.schema) as JsonSchema);
    }
    const jsonBody = bodyContent?.['application/json']?.schema;
    return {
      operationId,
      derivedId,
      method,
      path,
      safe: SAFE.has(method),
      parameters: params.map((p) => ({
        name: String(p.name),
        in: p.in as ContractParameter['in'],
        required: p.required === true,
        schema: (this.derefDeep(p.schema ?? {}) ?? {}) as JsonSchema,
        raw: p,
        contentSchema: contentSchemaOf(p, (s) => this.derefDeep(s) as JsonSchema),
      })),
      requestBodySchema: jsonBody === undefined ? undefined : (this.derefDeep(jsonBody) as JsonSchema),
      responses,
      raw: op,
    };
  }

  /** Reads one self-contained OpenAPI file (local `$ref`s only). Start-up uses `Contract.open`. */
  static load(file: string): Contract {
    const text = readFileSync(file, 'utf8');
    const doc = parseYaml(text) as Record<string, unknown>;
    if (!doc || typeof doc !== 'object' || (typeof doc.openapi !== 'string' && typeof doc.swagger !== 'string')) {
      throw new Error(`${file}: not an OpenAPI document (no top-level "openapi" key)`);
    }
    return new Contract(doc, file, { version: versionOf(doc, file) });
  }

  /**
   * Loads a contract as the gateway does at start-up: every file of it bundled, checked against the
   * OpenAPI schema of its version; a mistake names file, JSON pointer and line.
   */
  static async open(file: string): Promise<Contract> {
    const { openContract } = await import('./contract-loader.ts');
    return openContract(file);
  }

  get operationIds(): string[] {
    return [...this.operations.keys()];
  }

  all(): ContractOperation[] {
    return [...this.operations.values()];
  }

  has(operationId: string): boolean {
    return this.operations.has(operationId);
  }

  /**
   * The operationId a binding names: an operationId, or `METHOD /path` as in the contract
   * (`GET /streams/{id}`; the method in any case). Undefined when it names no operation.
   */
  resolve(name: string): string | undefined {
    if (this.operations.has(name)) return name;
    const key = parseOperationKey(name);
    return key ? this.byRoute.get(`${key.method.toUpperCase()} ${key.path}`) : undefined;
  }

  operation(operationId: string): ContractOperation {
    const op = this.operations.get(operationId);
    if (!op) throw new Error(`operation ${operationId} is not in ${this.file}`);
    return op;
  }

  /**
   * The schema of a response: of the exact status, else its class (`2XX`), else `default`, as the
   * response validator finds it. A status declared without a JSON body has none (undefined), even
   * beside a `default` that has one: `default` is for the statuses the contract does not name.
   */
  responseSchema(operationId: string, status: number): JsonSchema | undefined {
    const r = this.operation(operationId).responses;
    const s = String(status);
    for (const key of [s, `${s[0]}XX`, `${s[0]}xx`, 'default']) if (key in r) return r[key];
    return undefined;
  }

  /** Resolves one local `$ref` (`#/components/...`). */
  deref(node: unknown): unknown {
    let current = node;
    for (let hops = 0; hops < 32; hops++) {
      if (!current || typeof current !== 'object' || typeof (current as { $ref?: unknown }).$ref !== 'string') return current;
      current = this.pointer((current as { $ref: string }).$ref);
    }
    throw new Error(`${this.file}: $ref chain too long`);
  }

  /**
   * A schema with its `$ref`s resolved inline, in JSON Schema 2020-12. A schema that refers back to
   * one it is inside of (`Node.children: [Node]`) keeps that reference, as `#/$defs/<name>`, with
   * the definition in `$defs` at the top of the returned schema: validators follow it, any depth.
   */
  derefDeep(node: unknown): unknown {
    const defs = new Map<string, { name: string; schema?: unknown }>();
    const nameOf = (ref: string): string => {
      let d = defs.get(ref);
      if (!d) {
        const base = ref.replace(/^#\//, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
        d = { name: base };
        defs.set(ref, d);
      }
      return d.name;
    };
    /** `named`: a map of names to schemas (`properties`): its keys are names, not keywords. */
    const expand = (n: unknown, stack: readonly string[], named = false): unknown => {
      if (Array.isArray(n)) return n.map((x) => expand(x, stack));
      if (!n || typeof n !== 'object') return n;
      const obj = n as Record<string, unknown>;
      if (named) return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, expand(v, stack)]));
      if (typeof obj.$ref === 'string') {
        const ref = obj.$ref;
        if (!ref.startsWith('#')) return obj;
        if (stack.includes(ref)) return { $ref: `#/$defs/${nameOf(ref)}` };
        const target = expand(this.pointer(ref), [...stack, ref]);
        const siblings = Object.keys(obj).filter((k) => k !== '$ref');
        // 3.0 ignores keywords beside $ref; 3.1 applies them too.
        if (siblings.length === 0 || this.version === '3.0') return target;
        const own: Record<string, unknown> = {};
        for (const k of siblings) own[k] = VALUE_KEYS.has(k) ? obj[k] : expand(obj[k], stack, NAMED_KEYS.has(k));
        return { ...own, allOf: [...((own.allOf as unknown[] | undefined) ?? []), target] };
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) out[k] = VALUE_KEYS.has(k) ? v : expand(v, stack, NAMED_KEYS.has(k));
      return out;
    };
    const root = expand(node, []);
    if (defs.size === 0) return root;
    // Each definition that is referred back to, expanded the same way (it may add others).
    for (let done = 0; done < defs.size;) {
      done = 0;
      for (const [ref, d] of defs) {
        if (d.schema === undefined) d.schema = expand(this.pointer(ref), [ref]);
        else done++;
      }
    }
    const $defs = Object.fromEntries([...defs.values()].map((d) => [d.name, d.schema]));
    return root && typeof root === 'object' && !Array.isArray(root) ? { ...(root as Record<string, unknown>), $defs: { ...((root as { $defs?: object }).$defs ?? {}), ...$defs } } : root;
  }

  private pointer(ref: string): unknown {
    if (!ref.startsWith('#')) throw new Error(`${this.file}: $ref ${ref} is to another file; load the contract with Contract.open, which bundles its files`);
    let node: unknown = this.normalized;
    if (ref === '#' || ref === '#/') return node;
    // `#components/...` (no slash) is read as `#/components/...`, as other tools do.
    for (const raw of ref.slice(ref.startsWith('#/') ? 2 : 1).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
      if (node === undefined) throw new Error(`${this.file}: $ref ${ref} points nowhere`);
    }
    return node;
  }
}

/** A file as messages show it: relative to the working folder when inside it. */
export function displayPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') ? rel : file;
}

/** Keys whose values are data, not schemas: never expanded. */
const VALUE_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const']);
/** Keys whose values map names to schemas. */
const NAMED_KEYS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
