/**
 * Checks a request against its operation in the contract: path, query and header parameters
 * (coerced to their declared types, defaults filled in) and the JSON body. Validators are compiled
 * once per operation at start-up, with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses), and every
 * offending field is reported, named as the caller wrote it (`path.customerId`, `query.limit`,
 * `headers.idempotency-key`, `body.lines[0].sku`).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Contract, ContractOperation, JsonSchema } from '../contract/contract.ts';
import { PROBLEMS, Problem, type FieldError } from '../problem.ts';
import type { Ajv } from 'ajv';
import { addSchemaViewKeywords, schemaView, viewOptionsOf } from '../contract/schema-view.ts';
import { bodyKindOf, MediaMatcher, parseMediaType, type BodyKind } from './media-types.ts';
import { planParameter, parseCookies, QueryReader, readCookieValue, readHeaderValue, readPathValue, type ParameterPlan } from './parameters.ts';
import type { FieldEncodings } from './request-body.ts';
import { fieldErrors } from './field-errors.ts';
import { credentialQueryNames } from '../security/contract-security.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface CheckedRequest {
  pathParams: Record<string, unknown>;
  query: Record<string, unknown>;
}

/** The body's media type: JSON (`application/json`, `application/*+json`), something else, or none. */
export type BodyMedia = 'json' | 'other' | 'none';

export function bodyMediaOf(contentType: string | undefined, hasBody: boolean): BodyMedia {
  if (!hasBody) return 'none';
  if (contentType === undefined) return 'other';
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')) ? 'json' : 'other';
}

function objectSchema(params: { name: string; required: boolean; schema: JsonSchema | boolean }[]): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
  };
}

/** How one declared media type of the request body is read and checked. */
export interface BodyPlan {
  /** The `content` key it was declared under. */
  key: string;
  kind: BodyKind;
  validate: ValidateFunction | undefined;
  encodings: FieldEncodings | undefined;
  /** Form and multipart fields whose schema is an object (their text is JSON). */
  objectFields: ReadonlySet<string>;
}

function objectFieldsOf(schema: unknown, contract: Contract): Set<string> {
  const out = new Set<string>();
  const s = contract.deref(schema) as { properties?: Record<string, unknown> } | undefined;
  for (const [name, raw] of Object.entries(s?.properties ?? {})) {
    const p = contract.deref(raw) as { type?: unknown; items?: unknown } | undefined;
    const items = contract.deref(p?.items) as { type?: unknown } | undefined;
    if (p?.type === 'object' || (p?.type === 'array' && items?.type === 'object')) out.add(name);
  }
  return out;
}

/** The compiled checks of one operation. */
export class OperationRequestCheck {
  private readonly pathPlans: ParameterPlan[];
  private readonly path: ValidateFunction | undefined;
  private readonly queryReader: QueryReader;
  private readonly query: ValidateFunction | undefined;
  private readonly headerPlans: ParameterPlan[];
  /** Query parameters that carry an API key (the contract's security): neither refused nor passed on. */
  private readonly credentialNames: ReadonlySet<string>;
  private readonly headers: ValidateFunction | undefined;
  private readonly cookiePlans: ParameterPlan[];
  private readonly cookies: ValidateFunction | undefined;
  private readonly bodies: MediaMatcher<BodyPlan>;
  private readonly bodyByType = new Map<string, BodyPlan | null>();
  /** Whether the operation takes a body at all, and whether it must have one. */
  readonly takesBody: boolean;
  private readonly bodyRequired: boolean;

  constructor(
    readonly operation: ContractOperation,
    contract: Contract,
    coercing: Ajv2020,
    strict: Ajv2020,
  ) {
    const view = viewOptionsOf(contract, 'request');
    const plans = operation.parameters.map((p) => {
      const plan = planParameter(p);
      return { ...plan, schema: schemaView(plan.schema, view) };
    });
    const compile = (list: ParameterPlan[]) => (list.length > 0 ? coercing.compile(objectSchema(list)) : undefined);
    this.pathPlans = plans.filter((p) => p.in === 'path');
    this.path = compile(this.pathPlans);
    const queryPlans = plans.filter((p) => p.in === 'query');
    this.credentialNames = new Set(credentialQueryNames(contract, operation));
    this.queryReader = new QueryReader(queryPlans, operation.operationId, this.credentialNames);
    this.query = compile(queryPlans);
    this.headerPlans = plans.filter((p) => p.in === 'header');
    this.headers = compile(this.headerPlans);
    this.cookiePlans = plans.filter((p) => p.in === 'cookie');
    this.cookies = compile(this.cookiePlans);

    const requestBody = contract.deref(operation.raw.requestBody) as { required?: unknown; content?: Record<string, unknown> } | undefined;
    this.takesBody = requestBody !== undefined;
    this.bodyRequired = requestBody?.required === true;
    const plansByKey: Record<string, BodyPlan> = {};
    for (const [key, rawMedia] of Object.entries(requestBody?.content ?? {})) {
      const media = parseMediaType(key);
      if (!media) continue;
      const m = (contract.deref(rawMedia) ?? {}) as { schema?: unknown; encoding?: FieldEncodings };
      const kind = media.essence === '*/*' || media.subtype === '*' ? (media.type === 'text' ? 'text' : media.type === 'application' ? 'binary' : 'binary') : bodyKindOf(media);
      const schema = m.schema === undefined ? undefined : schemaView(m.schema, view);
      const ajv = kind === 'form' || kind === 'multipart' ? coercing : strict;
      plansByKey[key] = {
        key,
        kind,
        validate: schema === undefined || kind === 'binary' ? undefined : ajv.compile(schema as JsonSchema),
        encodings: m.encoding,
        objectFields: objectFieldsOf(m.schema, contract),
      };
    }
    this.bodies = new MediaMatcher(plansByKey);
  }

  /** The declared media type a body of this Content-Type is read as; undefined: 415. */
  bodyPlan(contentType: string | undefined): BodyPlan | undefined {
    const key = contentType ?? '';
    const known = this.bodyByType.get(key);
    if (known !== undefined) return known ?? undefined;
    const media = parseMediaType(contentType);
    let plan = media ? this.bodies.match(media)?.value : undefined;
    // A declared `*/*` or `type/*` reads a JSON body as JSON.
    if (plan && media && plan.kind !== bodyKindOf(media) && bodyKindOf(media) === 'json' && (plan.key === '*/*' || plan.key.endsWith('/*'))) plan = { ...plan, kind: 'json' };
    if (this.bodyByType.size < 64) this.bodyByType.set(key, plan ?? null);
    return plan;
  }

  /** 415 naming what the operation takes. */
  unsupported(contentType: string | undefined): Problem {
    return new Problem(PROBLEMS.unsupportedMediaType, {
      detail: `the request body is ${contentType ? `of type ${contentType}` : 'without a Content-Type'}; ${this.operation.operationId} takes ${this.bodies.keys.join(', ') || 'no body'}`,
    });
  }

  /**
   * Checks what was sent; returns the parameters read in their styles and coerced to their
   * declared types (defaults filled in), or throws a 400 problem that names every offending field.
   * `media`: no body, a JSON body (the operation's JSON media type), or the plan the body was read by.
   */
  check(pathParams: Record<string, string>, rawQuery: string, headers: Record<string, string | string[] | undefined>, body: unknown, media: 'none' | 'json' | BodyPlan): CheckedRequest {
    const errors: FieldError[] = [];
    const path: Record<string, unknown> = {};
    for (const plan of this.pathPlans) {
      const raw = pathParams[plan.name];
      if (raw === undefined) continue;
      const value = plan.style === 'simple' && plan.shape === 'primitive' && !plan.json ? raw : readPathValue(plan, raw);
      if (value === undefined) errors.push({ field: `path.${plan.name}`, message: `is not in the ${plan.style} style` });
      else path[plan.name] = value;
    }
    if (this.path && !this.path(path)) errors.push(...fieldErrors('path', this.path.errors));

    const query = this.queryReader.read(rawQuery, errors);
    if (this.query && !this.query(query)) errors.push(...fieldErrors('query', this.query.errors));

    if (this.headers) {
      const declared: Record<string, unknown> = {};
      for (const plan of this.headerPlans) {
        const v = headers[plan.name];
        if (v !== undefined) declared[plan.name] = readHeaderValue(plan, Array.isArray(v) ? v.join(',') : v);
      }
      if (!this.headers(declared)) errors.push(...fieldErrors('headers', this.headers.errors));
    }

    if (this.cookies) {
      const sent = parseCookies(typeof headers.cookie === 'string' ? headers.cookie : undefined);
      const declared: Record<string, unknown> = {};
      for (const plan of this.cookiePlans) if (sent[plan.name] !== undefined) declared[plan.name] = readCookieValue(plan, sent[plan.name]);
      if (!this.cookies(declared)) errors.push(...fieldErrors('cookies', this.cookies.errors));
    }

    if (this.takesBody) {
      if (media === 'none') {
        if (this.bodyRequired)
          errors.push({
            field: 'body',
            message: this.bodies.keys.every((k) => parseMediaType(k)?.essence === 'application/json') ? 'a JSON body is required' : `a body is required (${this.bodies.keys.join(', ')})`,
          });
      } else {
        const plan = media === 'json' ? this.bodyPlan('application/json') : media;
        const validate = plan?.validate;
        if (validate && !validate(body)) errors.push(...fieldErrors('body', validate.errors));
      }
    }
    if (errors.length > 0) {
      throw new Problem(PROBLEMS.validation, { detail: errors.map((x) => `${x.field}: ${x.message}`).join('; '), errors });
    }
    return { pathParams: path, query };
  }
}

/** Two ajv instances: parameters arrive as text and are coerced; bodies are JSON and are not. */
export function requestAjvs(): { coercing: Ajv2020; strict: Ajv2020 } {
  const coercing = new Ajv2020({ strict: false, allErrors: true, coerceTypes: 'array', useDefaults: true, validateFormats: true });
  const strict = new Ajv2020({ strict: false, allErrors: true, useDefaults: true, validateFormats: true });
  addFormats(coercing);
  addFormats(strict);
  addSchemaViewKeywords(coercing as unknown as Ajv);
  addSchemaViewKeywords(strict as unknown as Ajv);
  return { coercing, strict };
}

/** 415 for a body that is not JSON where the operation takes JSON. */
export function unsupportedMedia(contentType: string | undefined): Problem {
  return new Problem(PROBLEMS.unsupportedMediaType, {
    detail: `the request body is ${contentType ? `of type ${contentType}` : 'without a Content-Type'}; send application/json`,
  });
}
