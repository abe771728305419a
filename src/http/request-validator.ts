/**
 * Checks a request against its operation in the contract: path, query and header parameters
 * (coerced to their declared types, defaults filled in) and the JSON body. Validators are compiled
 * once per operation at start-up, with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses), and every
 * offending field is reported, named as the caller wrote it (`path.customerId`, `query.limit`,
 * `headers.idempotency-key`, `body.lines[0].sku`).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Contract, ContractOperation, JsonSchema } from '../contract/contract.ts';
import { PROBLEMS, Problem, type FieldError } from '../problem.ts';
import { ajvPathToField } from './response-validator.ts';
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

export function fieldErrors(prefix: string, errors: ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => {
    const extra =
      e.keyword === 'additionalProperties'
        ? `.${String((e.params as { additionalProperty?: string }).additionalProperty)}`
        : e.keyword === 'required'
          ? `.${String((e.params as { missingProperty?: string }).missingProperty)}`
          : '';
    return { field: ajvPathToField(prefix, e.instancePath) + extra, message: e.message ?? e.keyword };
  });
}

function objectSchema(params: { name: string; required: boolean; schema: JsonSchema }[], additional: boolean): JsonSchema {
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
    additionalProperties: additional,
  };
}

/** The compiled checks of one operation. */
export class OperationRequestCheck {
  private readonly path: ValidateFunction | undefined;
  private readonly query: ValidateFunction;
  private readonly queryNames: string[];
  /** Query parameters that carry an API key (the contract's security): neither refused nor passed on. */
  private readonly credentialNames: ReadonlySet<string>;
  private readonly headers: ValidateFunction | undefined;
  private readonly headerNames: string[];
  private readonly body: ValidateFunction | undefined;
  /** Whether the operation takes a body at all, and whether it must have one. */
  readonly takesBody: boolean;
  private readonly bodyRequired: boolean;

  constructor(
    readonly operation: ContractOperation,
    contract: Contract,
    coercing: Ajv2020,
    strict: Ajv2020,
  ) {
    const params = operation.parameters;
    const pathParams = params.filter((p) => p.in === 'path');
    this.path = pathParams.length > 0 ? coercing.compile(objectSchema(pathParams, true)) : undefined;
    const queryParams = params.filter((p) => p.in === 'query');
    this.queryNames = queryParams.map((p) => p.name);
    this.credentialNames = new Set(credentialQueryNames(contract, operation));
    this.query = coercing.compile(objectSchema(queryParams, false));
    const headerParams = params.filter((p) => p.in === 'header').map((p) => ({ ...p, name: p.name.toLowerCase() }));
    this.headerNames = headerParams.map((p) => p.name);
    this.headers = headerParams.length > 0 ? coercing.compile(objectSchema(headerParams, true)) : undefined;
    const requestBody = contract.deref(operation.raw.requestBody) as { required?: unknown } | undefined;
    this.takesBody = requestBody !== undefined;
    this.bodyRequired = requestBody?.required === true;
    this.body = operation.requestBodySchema ? strict.compile(operation.requestBodySchema) : undefined;
  }

  /**
   * Checks what was sent; returns the parameters coerced to their declared types (defaults filled
   * in), or throws a 400 problem that names every offending field.
   */
  check(pathParams: Record<string, string>, rawQuery: string, headers: Record<string, string | string[] | undefined>, body: unknown, media: BodyMedia): CheckedRequest {
    const errors: FieldError[] = [];
    const path: Record<string, unknown> = { ...pathParams };
    if (this.path && !this.path(path)) errors.push(...fieldErrors('path', this.path.errors));

    const query: Record<string, unknown> = {};
    if (rawQuery !== '') {
      for (const [k, v] of new URLSearchParams(rawQuery)) {
        if (k === '__proto__') {
          // (Never an own key of a plain object: it would change the object's prototype instead.)
          errors.push({ field: 'query.__proto__', message: `is not a query parameter of ${this.operation.operationId}` });
          continue;
        }
        if (this.credentialNames.has(k)) continue;
        const prev = query[k];
        query[k] = prev === undefined ? v : Array.isArray(prev) ? [...(prev as unknown[]), v] : [prev, v];
      }
    }
    if (!this.query(query)) {
      for (const e of fieldErrors('query', this.query.errors)) {
        errors.push(
          e.message === 'must NOT have additional properties'
            ? { field: e.field, message: `is not a query parameter of ${this.operation.operationId} (it takes: ${this.queryNames.join(', ') || 'none'})` }
            : e,
        );
      }
    }

    if (this.headers) {
      const declared: Record<string, unknown> = {};
      for (const name of this.headerNames) if (headers[name] !== undefined) declared[name] = headers[name];
      if (!this.headers(declared)) errors.push(...fieldErrors('headers', this.headers.errors));
    }

    if (this.takesBody) {
      if (media === 'none') {
        if (this.bodyRequired) errors.push({ field: 'body', message: 'a JSON body is required' });
      } else if (this.body && !this.body(body)) {
        errors.push(...fieldErrors('body', this.body.errors));
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
  return { coercing, strict };
}

/** 415 for a body that is not JSON where the operation takes JSON. */
export function unsupportedMedia(contentType: string | undefined): Problem {
  return new Problem(PROBLEMS.unsupportedMediaType, {
    detail: `the request body is ${contentType ? `of type ${contentType}` : 'without a Content-Type'}; send application/json`,
  });
}
