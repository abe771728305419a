/**
 * The contract: openapi.yaml, loaded once and indexed by operationId. Everything that needs to know
 * what an operation looks like (the router, kinds, the comparator, the recorder) asks this module.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type JsonSchema = { [key: string]: unknown };
export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options';
const METHODS: readonly HttpMethod[] = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const SAFE: ReadonlySet<HttpMethod> = new Set(['get', 'head', 'options']);

export interface ContractParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
  /** The parameter object itself (style, explode, allowReserved, allowEmptyValue, content). */
  raw?: Record<string, unknown>;
  /** The schema of a `content`-encoded parameter (its one media type's), dereferenced. */
  contentSchema?: JsonSchema;
}

export interface ContractOperation {
  operationId: string;
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

export class Contract {
  readonly document: Record<string, unknown>;
  readonly file: string;
  private readonly operations = new Map<string, ContractOperation>();

  constructor(document: Record<string, unknown>, file = 'openapi.yaml') {
    this.document = document;
    this.file = file;
    const paths = (document.paths ?? {}) as Record<string, Record<string, unknown>>;
    for (const [path, item] of Object.entries(paths)) {
      const shared = (item.parameters ?? []) as unknown[];
      for (const method of METHODS) {
        const op = item[method] as Record<string, unknown> | undefined;
        if (!op) continue;
        const operationId = op.operationId;
        if (typeof operationId !== 'string') {
          throw new Error(`${file}: paths.${path}.${method} has no operationId; every operation needs one`);
        }
        const params = [...shared, ...((op.parameters ?? []) as unknown[])].map((p) => this.deref(p) as Record<string, unknown>);
        const body = this.deref(op.requestBody) as Record<string, unknown> | undefined;
        const bodyContent = body?.content as Record<string, { schema?: unknown }> | undefined;
        const responses: Record<string, JsonSchema | undefined> = {};
        for (const [status, resp] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
          const r = this.deref(resp) as Record<string, unknown>;
          const content = r.content as Record<string, { schema?: unknown }> | undefined;
          const media = content?.['application/json'] ?? content?.['application/problem+json'];
          responses[status] = media?.schema === undefined ? undefined : (this.derefDeep(media.schema) as JsonSchema);
        }
        this.operations.set(operationId, {
          operationId,
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
          requestBodySchema: bodyContent?.['application/json']?.schema === undefined ? undefined : (this.derefDeep(bodyContent['application/json'].schema) as JsonSchema),
          responses,
          raw: op,
        });
      }
    }
  }

  static load(file: string): Contract {
    const text = readFileSync(file, 'utf8');
    const doc = parseYaml(text) as Record<string, unknown>;
    if (!doc || typeof doc !== 'object' || typeof doc.openapi !== 'string') {
      throw new Error(`${file}: not an OpenAPI document (no top-level "openapi" key)`);
    }
    return new Contract(doc, file);
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

  operation(operationId: string): ContractOperation {
    const op = this.operations.get(operationId);
    if (!op) throw new Error(`operation ${operationId} is not in ${this.file}`);
    return op;
  }

  /** The schema of a response: the exact status, then its class (`2XX`), then `default`. */
  responseSchema(operationId: string, status: number): JsonSchema | undefined {
    const r = this.operation(operationId).responses;
    return r[String(status)] ?? r[`${String(status)[0]}XX`] ?? r.default;
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

  /** Resolves every local `$ref` inside a schema (the contract has no recursive schemas; depth is bounded anyway). */
  derefDeep(node: unknown, depth = 0): unknown {
    if (depth > 64) throw new Error(`${this.file}: schema nested too deeply (recursive $ref?)`);
    const n = this.deref(node);
    if (Array.isArray(n)) return n.map((x) => this.derefDeep(x, depth + 1));
    if (n && typeof n === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(n)) out[k] = k === 'example' || k === 'examples' ? v : this.derefDeep(v, depth + 1);
      return out;
    }
    return n;
  }

  private pointer(ref: string): unknown {
    if (!ref.startsWith('#/')) throw new Error(`${this.file}: only local $refs are supported, got ${ref}`);
    let node: unknown = this.document;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
      if (node === undefined) throw new Error(`${this.file}: $ref ${ref} points nowhere`);
    }
    return node;
  }
}
