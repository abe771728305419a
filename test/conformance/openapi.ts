/**
 * The openapi part of `npm run conformance`: the shared corpus's real contracts and
 * express-openapi-validator's cases, each through a real gateway (the http kind, every operation
 * bound to a loopback echo upstream). Prints the figures docs/conformance.md reports.
 *
 * - Real contracts (`openapi/contracts/real.yaml`): does each load as published; then, for every
 *   operation, is a valid request accepted and an invalid one refused with 400 naming the field.
 * - eov cases (`openapi/cases/eov/*.yaml`): pass counts per category. The `harness/*` contracts the
 *   cases name are written for this runner (test/conformance/harness/).
 *
 * `npm run conformance openapi`; FICUS_CONFORMANCE_VERBOSE=1 prints every failure.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Contract, type ContractOperation, type ContractParameter, type JsonSchema } from '../../src/contract/contract.ts';
import { OperationRouter } from '../../src/http/operation-router.ts';
import { Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startHttpServer } from '../helpers/gateway.ts';
import type { IncomingMessage } from 'node:http';
import { FormData, request } from 'undici';
import type { SecurityApi } from '../../src/security/security-feature.ts';
import { CaseCredentials, type CaseRequest } from './case-credentials.ts';
import { pointerOf } from '../../src/contract/source-lines.ts';
import { choices, discriminatorNames, sampleOf, type Choice } from './samples.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.env.FICUS_CONFORMANCE_VERBOSE === '1';

/** What the upstream answers next, and what it saw last. */
interface Upstream {
  url: string;
  next: { status: number; body?: string; ctype?: string };
  seen: { method: string; path: string; query: URLSearchParams; body: string; ctype: string | undefined } | undefined;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const up: Upstream = { url: '', next: { status: 200 }, seen: undefined, close: async () => {} };
  const server = await startHttpServer((req: IncomingMessage, res, body) => {
    const u = new URL(req.url ?? '/', 'http://upstream');
    if (u.pathname === '/healthz') {
      res.writeHead(200).end();
      return;
    }
    up.seen = { method: req.method ?? '', path: u.pathname, query: u.searchParams, body, ctype: req.headers['content-type'] };
    const { status, body: text, ctype } = up.next;
    const headers: Record<string, string> = {};
    if (text !== undefined && status !== 204 && status !== 304) headers['content-type'] = ctype ?? 'application/json';
    res.writeHead(status, headers);
    res.end(status === 204 || status === 304 ? undefined : text);
  });
  up.url = server.url;
  up.close = server.close;
  return up;
}

const SILENT = createLogger({ level: 'silent' });

/**
 * A gateway over `contractFile` with every operation bound to the upstream (by operationId), its
 * front door set up from the contract's security schemes with the credentials `creds` stands for.
 */
async function gatewayFor(contractFile: string, contract: Contract, upstream: Upstream, creds: CaseCredentials): Promise<{ url: string; close(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'ficus-conformance-'));
  try {
    const { security, env } = await creds.configure();
    writeFileSync(
      join(root, 'ficus.yaml'),
      JSON.stringify({
        contract: contractFile,
        server: { port: 0, host: '127.0.0.1', bodyLimit: '1mb' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: ':memory:' },
        security,
      }),
    );
    mkdirSync(join(root, 'adapters', 'echo'), { recursive: true });
    const operations = Object.fromEntries(contract.all().map((op) => [op.operationId, {}]));
    const adapter = { kind: 'http', role: 'modern', connection: { baseUrl: upstream.url }, policy: { retry: { maxRetries: 0 }, circuitBreaker: { enabled: false } }, operations };
    writeFileSync(join(root, 'adapters', 'echo', 'adapter.yaml'), JSON.stringify(adapter));
    const gateway = await Gateway.create({ root, env, logger: SILENT, processMetrics: false });
    const sec = gateway.feature<SecurityApi>('security');
    if (sec) await creds.issue(sec.consumers);
    const url = await gateway.listen(0, '127.0.0.1');
    return {
      url,
      close: async () => {
        await gateway.close(0);
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return (lines.length > 1 && lines[0].startsWith('Ficus cannot start') ? lines.slice(1, 3) : lines.slice(0, 2)).join(' / ').slice(0, 300);
}

/** Checks the runner's own answers against the response schema (plain ajv, not Ficus's checks). */
const answerAjv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true, logger: false });
(addFormats as unknown as (a: Ajv2020) => Ajv2020)(answerAjv);
const answerChecks = new WeakMap<object, ValidateFunction>();

/**
 * The body an upstream answers with: the schema's sample, or, where the sample breaks the schema
 * and the schema is a list that may be empty, the empty list (eov's query.params.yaml declares
 * `Pet` as `allOf` a schema with `additionalProperties: false` and one that requires `id`: no item
 * fits, but `[]` does). Otherwise the sample, as it is.
 */
function answerBody(contract: Contract, schema: JsonSchema): unknown {
  const sample = sampleOf(schema, (n) => contract.deref(n), true) ?? null;
  let check = answerChecks.get(schema);
  if (!check) {
    try {
      check = answerAjv.compile(schema);
    } catch {
      return sample;
    }
    answerChecks.set(schema, check);
  }
  if (check(sample)) return sample;
  const list = schema.type === 'array' || (Array.isArray(schema.type) && schema.type.includes('array'));
  if (list && (typeof schema.minItems !== 'number' || schema.minItems === 0) && check([])) return [];
  return sample;
}

/** The answer an upstream gives for `op`: its first declared 2xx (or `want`), with a body that fits its schema. */
function validAnswer(contract: Contract, op: ContractOperation, want?: number): Upstream['next'] {
  const declared = Object.keys(op.responses);
  const status =
    want !== undefined && (declared.includes(String(want)) || declared.includes('2XX') || declared.includes('default'))
      ? want
      : Number(declared.find((s) => /^2\d\d$/.test(s)) ?? (declared.includes('2XX') || declared.includes('default') || declared.length === 0 ? 200 : (declared.find((s) => /^\d{3}$/.test(s)) ?? 200)));
  const schema = contract.responseSchema(op.operationId, status);
  if (status === 204 || schema === undefined) return { status };
  return { status, body: JSON.stringify(answerBody(contract, schema)) };
}

function credentials(contract: Contract, op: ContractOperation): { headers: Record<string, string>; query: string[]; cookies: string[] } {
  const out = { headers: {} as Record<string, string>, query: [] as string[], cookies: [] as string[] };
  const reqs = (op.raw.security ?? contract.document.security ?? []) as Record<string, unknown>[];
  const schemes = ((contract.document.components as { securitySchemes?: Record<string, unknown> } | undefined)?.securitySchemes ?? {}) as Record<string, unknown>;
  const first = reqs[0];
  if (!first) return out;
  for (const name of Object.keys(first)) {
    const s = contract.deref(schemes[name]) as { type?: string; scheme?: string; in?: string; name?: string } | undefined;
    if (!s) continue;
    if (s.type === 'apiKey' && s.name) {
      if (s.in === 'header') out.headers[s.name.toLowerCase()] = 'conformance-key';
      else if (s.in === 'query') out.query.push(`${encodeURIComponent(s.name)}=conformance-key`);
      else if (s.in === 'cookie') out.cookies.push(`${s.name}=conformance-key`);
    } else if (s.type === 'http' && s.scheme?.toLowerCase() === 'basic') out.headers.authorization = `Basic ${Buffer.from('user:pass').toString('base64')}`;
    else out.headers.authorization = 'Bearer conformance-token';
  }
  return out;
}

function paramText(v: unknown): string {
  if (Array.isArray(v)) return v.map(paramText).join(',');
  if (v && typeof v === 'object') return Object.entries(v).flat().map(paramText).join(',');
  return String(v);
}

/**
 * The contract the runner checks its own (request) values with: the same document, each
 * discriminated `oneOf`/`anyOf` branch required to carry the discriminator value that names it (a
 * plain JSON Schema validator knows no discriminator: `{pet_type: Cat}` would match both Cat and
 * Dog), and required readOnly properties not required (they are required of responses only).
 */
const checkContracts = new WeakMap<Contract, Contract>();

function checkContractOf(contract: Contract): Contract {
  let c = checkContracts.get(contract);
  if (!c) {
    const doc = structuredClone(contract.document);
    const walk = (node: unknown, at: readonly string[]): void => {
      if (Array.isArray(node)) return node.forEach((x, i) => walk(x, [...at, String(i)]));
      if (!isPlainObject(node)) return;
      const obj = node;
      for (const [k, v] of Object.entries(obj)) walk(v, [...at, k]);
      // A required readOnly property is required in responses only (OpenAPI 3's Schema Object).
      if (Array.isArray(obj.required) && obj.properties && typeof obj.properties === 'object') {
        const props = obj.properties as Record<string, unknown>;
        obj.required = (obj.required as string[]).filter((name) => (contract.deref(props[name]) as { readOnly?: unknown } | undefined)?.readOnly !== true);
      }
      const disc = obj.discriminator as { propertyName?: unknown; mapping?: Record<string, string> } | undefined;
      if (!disc || typeof disc.propertyName !== 'string') return;
      for (const key of ['oneOf', 'anyOf'] as const) {
        const branches = obj[key];
        if (!Array.isArray(branches)) continue;
        obj[key] = branches.map((b: unknown, i: number) => {
          const ref = (b as { $ref?: unknown } | undefined)?.$ref;
          const names = discriminatorNames(disc, typeof ref === 'string' ? ref : undefined, `#${pointerOf([...at, key, String(i)])}`);
          return names.length === 0 ? b : { allOf: [b, { properties: { [disc.propertyName as string]: { enum: names } } }] };
        });
      }
    };
    walk(doc, []);
    c = new Contract(doc, contract.file, { version: contract.version });
    checkContracts.set(contract, c);
  }
  return c;
}

/** Checks the runner's own values against a schema: plain ajv on the check contract's 2020-12 form, nothing of Ficus's checks. */
const valueChecks = new WeakMap<object, ValidateFunction | null>();

function checkOf(contract: Contract, schema: unknown): ValidateFunction | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  let check = valueChecks.get(schema);
  if (check === undefined) {
    try {
      check = answerAjv.compile(contract.derefDeep(schema) as JsonSchema);
    } catch {
      check = null;
    }
    valueChecks.set(schema, check);
  }
  return check ?? undefined;
}

/**
 * A value `schema` accepts: the given examples first, then the samples of each `Choice`, the first
 * that a plain JSON Schema validator accepts (`checkSchema`: the same schema in the check contract).
 * `found` is false where none is (the first sample is returned then): a contract may admit no value
 * at all (`allOf: [string, integer]`).
 */
function validValue(contract: Contract, schema: unknown, checkSchema: unknown, examples: unknown[] = []): { value: unknown; found: boolean } {
  const deref = (n: unknown) => contract.deref(n);
  const check = checkOf(checkContractOf(contract), checkSchema);
  let first: unknown;
  let any = false;
  const candidates = function* () {
    yield* examples;
    const full = new Map<Choice, unknown>();
    for (const c of choices(8)) {
      const v = sampleOf(schema, deref, false, 0, undefined, c);
      if (c.optional) full.set(c, v);
      yield v;
    }
    // Then each branch's full sample cut down to its required properties and one optional one: an
    // optional property may be what tells the branch from the others, where two would match others too.
    for (const [c, v] of full) {
      const bare = sampleOf(schema, deref, false, 0, undefined, { ...c, optional: false, bare: true });
      if (!isPlainObject(v) || !isPlainObject(bare)) continue;
      for (const key of Object.keys(v).filter((k) => !(k in bare))) yield { ...bare, [key]: v[key] };
    }
  };
  for (const v of candidates()) {
    if (!any) {
      first = v;
      any = true;
    }
    if (!check || check(v)) return { value: v, found: true };
  }
  return { value: first, found: false };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The schema of `op`'s request body of media type `type`, in `contract`. */
function bodySchemaIn(contract: Contract, operationId: string, type: string): unknown {
  const body = contract.deref(contract.operation(operationId).raw.requestBody) as { content?: Record<string, { schema?: unknown }> } | undefined;
  return body?.content?.[type]?.schema;
}

type Style = 'simple' | 'label' | 'matrix' | 'form' | 'spaceDelimited' | 'pipeDelimited' | 'deepObject';

/**
 * A parameter's value as the request carries it, in its `style` and `explode` (OpenAPI 3's table):
 * for a path, the segment (`;id=5`, `.a,b`, `a,b`); for a query, the `name=value` pairs; for a
 * header, its value; for a cookie, its `name=value`. A `content` parameter is its JSON text.
 */
function serialised(p: ContractParameter, v: unknown): string[] {
  const style = (p.raw.style as Style | undefined) ?? (p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple');
  const explode = (p.raw.explode as boolean | undefined) ?? style === 'form';
  const enc = p.in === 'header' ? (x: unknown) => paramText(x) : (x: unknown) => encodeURIComponent(paramText(x));
  const name = encodeURIComponent(p.name);
  if (p.contentSchema) {
    const text = enc(JSON.stringify(v));
    return [p.in === 'path' || p.in === 'header' ? text : `${name}=${text}`];
  }
  const items = Array.isArray(v) ? v.map(enc) : undefined;
  const entries = isPlainObject(v) ? Object.entries(v).map(([k, x]) => [encodeURIComponent(k), enc(x)] as const) : undefined;
  const scalar = items === undefined && entries === undefined ? enc(v) : undefined;
  const joined = (sep: string, kv: string) => items?.join(sep) ?? entries?.map(([k, x]) => `${k}${kv}${x}`).join(sep) ?? scalar ?? '';
  switch (style) {
    case 'matrix':
      if (items && explode) return [items.map((x) => `;${name}=${x}`).join('')];
      if (entries && explode) return [entries.map(([k, x]) => `;${k}=${x}`).join('')];
      return [`;${name}=${joined(',', ',')}`];
    case 'label':
      return [`.${explode ? joined('.', '=') : joined(',', ',')}`];
    case 'form':
      if (p.in === 'cookie') return [`${name}=${joined(',', ',')}`];
      if (items && explode) return items.map((x) => `${name}=${x}`);
      if (entries && explode) return entries.map(([k, x]) => `${k}=${x}`);
      return [`${name}=${joined(',', ',')}`];
    case 'spaceDelimited':
      return [`${name}=${joined('%20', '%20')}`];
    case 'pipeDelimited':
      return [`${name}=${joined('|', '|')}`];
    case 'deepObject':
      return entries ? entries.map(([k, x]) => `${name}%5B${k}%5D=${x}`) : [`${name}=${joined(',', ',')}`];
    default:
      // simple: path segments and headers.
      return [explode ? joined(',', '=') : joined(',', ',')];
  }
}

interface Built {
  method: string;
  path: string;
  query: string[];
  headers: Record<string, string>;
  body?: string | FormData;
  /** Where the runner found no value the contract accepts (the first of these, for the report). */
  noValidValue?: string;
}

/** A media type the runner answers with JSON: JSON itself, a `+json` type, or a wildcard. */
function takesJson(type: string): boolean {
  return /^application\/(.+\+)?json/.test(type) || type === '*/*' || type === 'application/*';
}

/** The request body's media type the runner sends: JSON first, then forms, multipart, text, anything. */
function bodyTypeOf(types: string[]): string | undefined {
  return (
    types.find((t) => /^application\/(.+\+)?json/.test(t)) ??
    types.find(takesJson) ??
    types.find((t) => t === 'application/x-www-form-urlencoded') ??
    types.find((t) => t.startsWith('multipart/')) ??
    types.find((t) => t.startsWith('text/')) ??
    types[0]
  );
}

/** A multipart body from an object sample: binary properties as files, objects and lists of objects as JSON. */
function multipartOf(contract: Contract, schema: unknown, body: Record<string, unknown>): FormData {
  const s = contract.derefDeep(schema) as JsonSchema;
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const fd = new FormData();
  for (const [k, v] of Object.entries(body)) {
    const ps = props[k] ?? {};
    const binary = ps.format === 'binary' || ps.format === 'byte' || ps.contentMediaType !== undefined || ps.contentEncoding !== undefined;
    const each = Array.isArray(v) && !(v.length > 0 && v.every((x) => x && typeof x === 'object')) ? v : [v];
    for (const x of each) {
      if (binary) fd.append(k, new Blob([paramText(x)], { type: 'application/octet-stream' }), `${k}.bin`);
      else if (x && typeof x === 'object') fd.append(k, new Blob([JSON.stringify(x)], { type: 'application/json' }));
      else fd.append(k, String(x));
    }
  }
  return fd;
}

/** A request `op` accepts; with `breakIt`, the same request with one thing wrong, and the field the 400 must name. */
function buildRequest(contract: Contract, op: ContractOperation, breakIt: boolean): { req: Built; field?: string } {
  const creds = credentials(contract, op);
  const values = new Map<string, unknown>();
  let noValidValue: string | undefined;
  const checked = checkContractOf(contract).operation(op.operationId);
  for (const [i, p] of op.parameters.entries()) {
    const examples = p.raw.examples as Record<string, { value?: unknown }> | undefined;
    const given = [p.raw.example, ...(examples ? Object.values(examples).map((e) => (contract.deref(e) as { value?: unknown }).value) : [])].filter((x) => x !== undefined);
    const { value, found } = validValue(contract, p.contentSchema ?? p.schema, checked.parameters[i]?.contentSchema ?? checked.parameters[i]?.schema, given);
    if (!found && p.required) noValidValue ??= `${p.in}.${p.name}`;
    values.set(`${p.in}:${p.name}`, value ?? 'abc');
  }
  let field: string | undefined;
  const dropped = new Set<string>();
  let pathOverride: [string, string] | undefined;
  let bodyOverride: unknown;
  let bodyBroken = false;

  const bodyRef = contract.deref(op.raw.requestBody) as { content?: Record<string, { schema?: unknown; example?: unknown; examples?: Record<string, unknown> }>; required?: boolean } | undefined;
  const bodyType = bodyRef?.content ? bodyTypeOf(Object.keys(bodyRef.content)) : undefined;
  const media = bodyType ? bodyRef?.content?.[bodyType] : undefined;
  const jsonType = bodyType && takesJson(bodyType) ? bodyType : undefined;
  const bodySchema = media?.schema;
  let body: unknown;
  if (bodySchema !== undefined) {
    const given = [media?.example, ...Object.values(media?.examples ?? {}).map((e) => (contract.deref(e) as { value?: unknown }).value)].filter((x) => x !== undefined);
    const v = validValue(contract, bodySchema, bodyType ? bodySchemaIn(checkContractOf(contract), op.operationId, bodyType) : undefined, given);
    body = v.value;
    // No body the schema accepts: a request without one is valid where the body is optional.
    if (!v.found && !bodyRef?.required) body = undefined;
    else if (!v.found) noValidValue ??= 'body';
  } else if (bodyRef?.required) body = {};

  if (breakIt) {
    const typed = op.parameters.find((p) => p.in === 'path' && ['integer', 'number', 'boolean'].some((t) => p.schema.type === t || (Array.isArray(p.schema.type) && p.schema.type.includes(t))));
    const enumed = op.parameters.find((p) => p.in === 'path' && (Array.isArray(p.schema.enum) || p.schema.format === 'uuid'));
    // A required parameter with a default is filled in when missing: leaving it out is no mistake.
    const reqQuery = op.parameters.find((p) => p.in === 'query' && p.required && p.schema.default === undefined);
    const reqHeader = op.parameters.find((p) => p.in === 'header' && p.required && p.schema.default === undefined);
    const bs = bodySchema !== undefined ? (contract.derefDeep(bodySchema) as { required?: string[]; properties?: Record<string, { default?: unknown }> }) : undefined;
    const sent = isPlainObject(body) ? body : undefined;
    const reqProp = sent ? (bs?.required ?? []).find((r) => r in sent && bs?.properties?.[r]?.default === undefined) : undefined;
    if (typed ?? enumed) {
      const p = (typed ?? enumed)!;
      pathOverride = [p.name, 'not_valid_value'];
      field = `path.${p.name}`;
    } else if (reqQuery) {
      dropped.add(`query:${reqQuery.name}`);
      field = `query.${reqQuery.name}`;
    } else if (reqHeader) {
      dropped.add(`header:${reqHeader.name}`);
      field = `headers.${reqHeader.name.toLowerCase()}`;
    } else if (reqProp && jsonType) {
      const copy = { ...(body as Record<string, unknown>) };
      delete copy[reqProp];
      bodyOverride = copy;
      bodyBroken = true;
      field = `body.${reqProp}`;
    } else {
      field = 'query.ficus_unknown';
    }
  }

  // A path written with a fragment (`/cookies#formExploded`, to tell operations apart) is sent without it: no client can send one.
  let path = op.path.split('#')[0];
  for (const p of op.parameters.filter((x) => x.in === 'path')) {
    const v = pathOverride && pathOverride[0] === p.name ? pathOverride[1] : serialised(p, values.get(`path:${p.name}`))[0];
    path = path.split(`{${p.name}}`).join(v);
  }
  const query: string[] = [...creds.query];
  const headers: Record<string, string> = { ...creds.headers };
  const cookies: string[] = [...creds.cookies];
  for (const p of op.parameters) {
    if (!p.required || p.in === 'path' || dropped.has(`${p.in}:${p.name}`)) continue;
    const text = serialised(p, values.get(`${p.in}:${p.name}`));
    if (p.in === 'query') query.push(...text);
    else if (p.in === 'header') headers[p.name.toLowerCase()] = text[0];
    else if (p.in === 'cookie') cookies.push(...text);
  }
  if (field === 'query.ficus_unknown') query.push('ficus_unknown=1');
  if (cookies.length > 0) headers.cookie = cookies.join('; ');
  if (bodyBroken) body = bodyOverride;
  let payload: string | FormData | undefined;
  if (body !== undefined && op.method !== 'get' && op.method !== 'head') {
    if (bodyType === undefined || jsonType) {
      payload = JSON.stringify(body);
      headers['content-type'] = jsonType && !jsonType.includes('*') ? jsonType : 'application/json';
    } else if (bodyType === 'application/x-www-form-urlencoded') {
      payload = new URLSearchParams(Object.entries(body as Record<string, unknown>).map(([k, v]) => [k, paramText(v)])).toString();
      headers['content-type'] = bodyType;
    } else if (bodyType.startsWith('multipart/') && isPlainObject(body)) {
      payload = multipartOf(contract, bodySchema, body);
    } else {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] = bodyType;
    }
  }
  return { req: { method: op.method.toUpperCase(), path, query, headers, body: payload, noValidValue }, field };
}

/** A built request as a case's request line and headers (for swapping its credentials)... */
function asCase(r: Built): CaseRequest {
  return { req: `${r.method} ${r.path}${r.query.length > 0 ? `?${r.query.join('&')}` : ''}`, headers: r.headers };
}

/** ... and back. */
function fromCase(r: Built, c: CaseRequest): Built {
  const target = c.req.slice(c.req.indexOf(' ') + 1);
  const q = target.indexOf('?');
  return { ...r, query: q === -1 ? [] : target.slice(q + 1).split('&'), headers: c.headers ?? {} };
}

async function send(base: string, r: Built): Promise<{ status: number; json: unknown }> {
  const url = base + r.path + (r.query.length > 0 ? `?${r.query.join('&')}` : '');
  const res = await request(url, { method: r.method as 'GET', headers: r.headers, body: r.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.statusCode, json };
}

function namesField(json: unknown, field: string): boolean {
  const errors = (json as { errors?: { field?: string }[] } | undefined)?.errors ?? [];
  return errors.some((e) => e.field === field || (typeof e.field === 'string' && e.field.startsWith(`${field}.`)));
}

interface RealFigures {
  contracts: number;
  loaded: number;
  operations: number;
  /** Valid requests the gateway passed on to the upstream (request validation let them through). */
  validAccepted: number;
  /** ... and whose answer came back 2xx (the response side too). */
  validAnswered: number;
  invalidRefused: number;
  invalidNamed: number;
  /** Operations for which the runner found no request the contract accepts (`contract operationId: where`). */
  noValidValue: string[];
}

async function realContracts(corpus: string): Promise<RealFigures> {
  const dir = join(corpus, 'openapi', 'contracts');
  const list = parseYaml(readFileSync(join(dir, 'real.yaml'), 'utf8')) as { name: string; file: string }[];
  const f: RealFigures = { contracts: list.length, loaded: 0, operations: 0, validAccepted: 0, validAnswered: 0, invalidRefused: 0, invalidNamed: 0, noValidValue: [] };
  const upstream = await startUpstream();
  try {
    for (const entry of list) {
      const file = join(dir, 'real', entry.file);
      let contract: Contract;
      let creds: CaseCredentials;
      let gw: { url: string; close(): Promise<void> };
      try {
        contract = await Contract.open(file);
        creds = new CaseCredentials(contract);
        for (const op of contract.all()) creds.note(asCase(buildRequest(contract, op, false).req));
        gw = await gatewayFor(file, contract, upstream, creds);
      } catch (err) {
        console.log(`  ✗ ${entry.name}: does not load: ${firstLine(err)}`);
        continue;
      }
      f.loaded++;
      let valid = 0;
      let answered = 0;
      let refused = 0;
      let named = 0;
      const ops = contract.all();
      try {
        for (const op of ops) {
          f.operations++;
          upstream.next = validAnswer(contract, op);
          const good = buildRequest(contract, op, false);
          if (good.req.noValidValue) f.noValidValue.push(`${entry.name} ${op.operationId}: ${good.req.noValidValue}`);
          good.req = fromCase(good.req, creds.swap(asCase(good.req)).request);
          upstream.seen = undefined;
          const a = await send(gw.url, good.req);
          const passedOn = upstream.seen !== undefined;
          if (passedOn) valid++;
          if (passedOn && a.status >= 200 && a.status < 300) answered++;
          else if (VERBOSE)
            console.log(
              `    valid ${op.operationId} ${good.req.method} ${good.req.path}${good.req.noValidValue ? ` (no valid value found for ${good.req.noValidValue})` : ''} ${passedOn ? 'passed on, answered' : 'refused'} ${a.status} ${JSON.stringify(a.json).slice(0, 300)}`,
            );
          const bad = buildRequest(contract, op, true);
          bad.req = fromCase(bad.req, creds.swap(asCase(bad.req)).request);
          const b = await send(gw.url, bad.req);
          if (b.status === 400) {
            refused++;
            if (bad.field && namesField(b.json, bad.field)) named++;
            else if (VERBOSE) console.log(`    invalid ${op.operationId}: 400 without ${bad.field}: ${JSON.stringify(b.json).slice(0, 300)}`);
          } else if (VERBOSE) console.log(`    invalid ${op.operationId} (${bad.field}) ${bad.req.method} ${bad.req.path} → ${b.status}`);
        }
      } finally {
        await gw.close();
      }
      f.validAccepted += valid;
      f.validAnswered += answered;
      f.invalidRefused += refused;
      f.invalidNamed += named;
      console.log(
        `  ${valid === ops.length && named === ops.length ? '✓' : '~'} ${entry.name}: ${ops.length} operations, valid passed on ${valid} (answered 2xx ${answered}), invalid refused with 400 ${refused} (naming the field ${named})`,
      );
    }
  } finally {
    await upstream.close();
  }
  return f;
}

interface EovCase {
  name: string;
  req: string;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
  ctype?: string;
  form?: Record<string, string>;
  multipart?: { name: string; value: string; filename?: string; ctype?: string }[];
  expect?: number;
  respond?: { status: number; json?: unknown; body?: string; ctype?: string };
  expectResponse?: 'accept' | 'reject';
  upstream?: { path?: string[]; query?: Record<string, string[]>; json?: unknown };
  cat?: string;
}

interface EovGroup {
  contract: string;
  cat: string;
  cases: EovCase[];
}

type Tally = Map<string, { pass: number; total: number }>;

async function runCase(gwUrl: string, upstream: Upstream, contract: Contract, router: OperationRouter<null>, c: EovCase): Promise<string | undefined> {
  const space = c.req.indexOf(' ');
  const method = c.req.slice(0, space);
  const target = c.req.slice(space + 1);
  const q = target.indexOf('?');
  const pathname = q === -1 ? target : target.slice(0, q);
  const m = router.match(method, pathname);
  const op = m.kind === 'found' ? m.operation : undefined;
  if (c.respond) {
    const r = c.respond;
    upstream.next = { status: r.status, body: r.json !== undefined ? JSON.stringify(r.json) : r.body, ctype: r.ctype };
  } else if (op) {
    upstream.next = validAnswer(contract, op, c.expect);
  } else upstream.next = { status: 200, body: '{}' };
  upstream.seen = undefined;

  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  let body: string | FormData | undefined;
  if (c.json !== undefined) {
    body = JSON.stringify(c.json);
    headers['content-type'] = c.ctype ?? 'application/json';
  } else if (c.body !== undefined) {
    body = c.body;
    if (c.ctype) headers['content-type'] = c.ctype;
  } else if (c.form) {
    body = new URLSearchParams(c.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (c.multipart) {
    const fd = new FormData();
    for (const part of c.multipart) {
      if (part.filename) fd.append(part.name, new Blob([part.value], { type: part.ctype ?? 'application/octet-stream' }), part.filename);
      else fd.append(part.name, part.value);
    }
    body = fd;
  } else if (c.ctype) headers['content-type'] = c.ctype;
  // undici's request, not fetch: a case may send a body with GET (OpenAPI 3.1 gives it no meaning; it is still checked).
  const answer = await request(gwUrl + target, { method: method as 'GET', headers, body, signal: AbortSignal.timeout(10_000) });
  const res = { status: answer.statusCode };
  const text = await answer.body.text();

  if (c.expectResponse) {
    const passedOn = res.status === c.respond?.status;
    if (c.expectResponse === 'accept' && !passedOn) return `expected the upstream's ${c.respond?.status} passed on, got ${res.status} ${text.slice(0, 600)}`;
    if (c.expectResponse === 'reject' && res.status !== 502) return `expected 502, got ${res.status} ${text.slice(0, 600)}`;
    return undefined;
  }
  if (res.status !== c.expect) return `expected ${c.expect}, got ${res.status} ${text.slice(0, 600)}`;
  if (c.upstream && res.status < 300) {
    const seen = upstream.seen as Upstream['seen'];
    if (!seen) return 'the upstream was not called';
    if (c.upstream.path && op) {
      const up = new OperationRouter<null>();
      up.add(op, null);
      const back = up.match(method === 'HEAD' ? 'GET' : method, seen.path);
      const values = back.kind === 'found' ? Object.values(back.pathParams) : [];
      if (!isDeepStrictEqual(values, c.upstream.path)) return `upstream path values ${JSON.stringify(values)}, expected ${JSON.stringify(c.upstream.path)} (${seen.path})`;
    }
    if (c.upstream.query) {
      for (const [k, want] of Object.entries(c.upstream.query)) {
        const got = seen.query.getAll(k);
        if (!isDeepStrictEqual(got, want)) return `upstream query ${k}=${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
      }
    }
    if (c.upstream.json !== undefined) {
      let got: unknown;
      try {
        got = JSON.parse(seen.body);
      } catch {
        got = seen.body;
      }
      if (!isDeepStrictEqual(got, c.upstream.json)) return `upstream body ${JSON.stringify(got)}, expected ${JSON.stringify(c.upstream.json)}`;
    }
  }
  return undefined;
}

/** Placeholder credentials sent as they are where the operation has no anonymous alternative: refused with 401? */
interface Placeholders {
  sent: number;
  refused: number;
}

async function eovCases(corpus: string): Promise<{ tally: Tally; unloaded: string[]; placeholders: Placeholders }> {
  const casesDir = join(corpus, 'openapi', 'cases', 'eov');
  const tally: Tally = new Map();
  const unloaded: string[] = [];
  const placeholders: Placeholders = { sent: 0, refused: 0 };
  const count = (cat: string, ok: boolean) => {
    const t = tally.get(cat) ?? { pass: 0, total: 0 };
    t.total++;
    if (ok) t.pass++;
    tally.set(cat, t);
  };
  const upstream = await startUpstream();
  try {
    for (const name of readdirSync(casesDir)
      .filter((n) => n.endsWith('.yaml'))
      .sort()) {
      const groups = parseYaml(readFileSync(join(casesDir, name), 'utf8')) as EovGroup[];
      for (const g of groups) {
        const file = g.contract.startsWith('harness/') ? join(HERE, g.contract) : join(corpus, 'openapi', 'contracts', g.contract);
        let contract: Contract;
        let creds: CaseCredentials;
        let gw: { url: string; close(): Promise<void> };
        try {
          contract = await Contract.open(file);
          creds = new CaseCredentials(contract);
          for (const c of g.cases) creds.note(c);
          gw = await gatewayFor(file, contract, upstream, creds);
        } catch (err) {
          unloaded.push(`${g.contract}: ${firstLine(err)}`);
          for (const c of g.cases) {
            count(c.cat ?? g.cat, false);
            if (VERBOSE || (c.cat ?? g.cat) === 'security') console.log(`    ✗ [${c.cat ?? g.cat}] ${g.contract} ${c.name}: contract does not load`);
          }
          continue;
        }
        const router = new OperationRouter<null>();
        for (const op of contract.all()) router.add(op, null);
        try {
          for (const c of g.cases) {
            const cat = c.cat ?? g.cat;
            const { request: swapped, swapped: anySwapped } = creds.swap(c);
            let failure: string | undefined;
            try {
              failure = await runCase(gw.url, upstream, contract, router, swapped);
            } catch (err) {
              failure = `threw ${firstLine(err)}`;
            }
            count(cat, failure === undefined);
            if (failure && VERBOSE) console.log(`    ✗ [${cat}] ${g.contract} ${c.name} (${c.req}): ${failure}`);
            else if (cat === 'security') console.log(`    ${failure ? '✗' : '✓'} [security] ${g.contract} ${c.name}${failure ? `: ${failure}` : ''}`);
            // The placeholder itself must not open the door where the operation needs a credential.
            const target = c.req.slice(c.req.indexOf(' ') + 1).split('?')[0];
            const m = router.match(c.req.slice(0, c.req.indexOf(' ')), target);
            if (anySwapped && c.expect !== undefined && c.expect < 300 && m.kind === 'found' && !creds.anonymous(m.operation.operationId)) {
              placeholders.sent++;
              const refused = await runCase(gw.url, upstream, contract, router, { ...c, expect: 401 }).catch((err: unknown) => `threw ${firstLine(err)}`);
              if (refused === undefined) placeholders.refused++;
              else console.log(`    ✗ [security] ${g.contract} ${c.name}, placeholder credentials sent as they are: ${refused}`);
            }
          }
        } finally {
          await gw.close();
        }
      }
    }
  } finally {
    await upstream.close();
  }
  return { tally, unloaded, placeholders };
}

export async function main(corpus: string): Promise<boolean> {
  console.log('real contracts (openapi/contracts/real.yaml):');
  const real = await realContracts(corpus);
  console.log(
    `\ncontracts loaded: ${real.loaded}/${real.contracts}; operations: ${real.operations}; valid requests passed on: ${real.validAccepted}/${real.operations} (answered 2xx end to end: ${real.validAnswered}); invalid refused with 400: ${real.invalidRefused}/${real.operations}, naming the field: ${real.invalidNamed}/${real.operations}`,
  );
  console.log(`operations for which the runner found no request a plain JSON Schema validator accepts: ${real.noValidValue.length}${real.noValidValue.map((n) => `\n  - ${n}`).join('')}`);

  console.log("\nexpress-openapi-validator's cases (openapi/cases/eov), by category:");
  const { tally, unloaded, placeholders } = await eovCases(corpus);
  let pass = 0;
  let total = 0;
  for (const [cat, t] of [...tally].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${cat.padEnd(26)} ${String(t.pass).padStart(3)}/${t.total}`);
    pass += t.pass;
    total += t.total;
  }
  const nonSecurity = [...tally].filter(([c]) => c !== 'security').reduce((a, [, t]) => ({ pass: a.pass + t.pass, total: a.total + t.total }), { pass: 0, total: 0 });
  console.log(`  ${'all'.padEnd(26)} ${String(pass).padStart(3)}/${total} (without security: ${nonSecurity.pass}/${nonSecurity.total})`);
  console.log(`  placeholder credentials sent as they are where a credential is required: refused with 401 ${placeholders.refused}/${placeholders.sent}`);
  for (const u of unloaded) console.log(`  contract not loaded: ${u}`);
  return true;
}
