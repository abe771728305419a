/**
 * Checks what a backend answered against the contract before it is sent, with ajv validators
 * compiled once per operation, status and media type. The response is found as OpenAPI says (the
 * exact status, then its class `2XX`, then `default`); one declared without `content` must come
 * without a body (a bodiless 201/204 beside a `default` error schema is fine); a media type
 * declared without a schema takes any body; a body of a media type the response does not declare
 * is a violation. writeOnly properties are refused (or removed: `server.writeOnly: remove`), and
 * not required. A violation is never passed on: the caller gets a 502 problem naming each field
 * (request-validator.ts checks the other direction).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Contract } from '../contract/contract.ts';
import { addSchemaViewKeywords, schemaView, viewOptionsOf, type SchemaViewOptions } from '../contract/schema-view.ts';
import type { OperationResult } from '../kinds/kind.ts';
import type { FieldError } from '../problem.ts';
import { fieldErrors } from './field-errors.ts';
import { bodyKindOf, isJsonMedia, MediaMatcher, parseMediaType, type BodyKind } from './media-types.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface MediaCheck {
  key: string;
  kind: BodyKind;
  validate: ValidateFunction | undefined;
}

/** One declared response of one operation (one status, or a class, or default). */
interface ResponseCheck {
  /** undefined: the response declares no content (no body may come). */
  media: MediaMatcher<MediaCheck> | undefined;
  /** What a body without a Content-Type is checked as (kinds answer JSON values): the JSON media type, else a wildcard. */
  untyped: MediaCheck | undefined;
  /** Whether that is a JSON media type (a body-less answer is checked only against one). */
  untypedIsJson: boolean;
}

/** The Content-Type of a result, from its headers in any case. */
export function resultContentType(result: OperationResult): string | undefined {
  const h = result.headers;
  if (!h) return undefined;
  if (h['content-type'] !== undefined) return h['content-type'];
  for (const k in h) if (k.toLowerCase() === 'content-type') return h[k];
  return undefined;
}

export class ResponseValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ResponseCheck | null>();
  private readonly view: SchemaViewOptions;

  constructor(
    private readonly contract: Contract,
    writeOnly: 'refuse' | 'remove' = 'refuse',
  ) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    addSchemaViewKeywords(this.ajv as unknown as Ajv);
    this.view = viewOptionsOf(contract, 'response', writeOnly);
  }

  /** The response object the contract gives for a status: exact, then class, then default. */
  private declared(operationId: string, status: number): ResponseCheck | null {
    const key = `${operationId} ${status}`;
    const known = this.cache.get(key);
    if (known !== undefined) return known;
    const op = this.contract.operation(operationId);
    const responses = (op.raw.responses ?? {}) as Record<string, unknown>;
    const s = String(status);
    const name = s in responses ? s : `${s[0]}XX` in responses ? `${s[0]}XX` : `${s[0]}xx` in responses ? `${s[0]}xx` : 'default' in responses ? 'default' : undefined;
    let check: ResponseCheck | null = null;
    if (name !== undefined) {
      const r = (this.contract.deref(responses[name]) ?? {}) as { content?: Record<string, unknown> };
      const content = r.content && typeof r.content === 'object' && Object.keys(r.content).length > 0 ? r.content : undefined;
      if (!content) check = { media: undefined, untyped: undefined, untypedIsJson: false };
      else {
        const checks: Record<string, MediaCheck> = {};
        let jsonKey: string | undefined;
        for (const [mediaKey, raw] of Object.entries(content)) {
          const media = parseMediaType(mediaKey);
          if (!media) continue;
          const m = (this.contract.deref(raw) ?? {}) as { schema?: unknown };
          const kind = media.essence === '*/*' || media.subtype === '*' ? 'binary' : bodyKindOf(media);
          if (kind === 'json' && (jsonKey === undefined || (media.essence === 'application/json' && parseMediaType(jsonKey)?.essence !== 'application/json'))) jsonKey = mediaKey;
          checks[mediaKey] = { key: mediaKey, kind, validate: m.schema === undefined || kind === 'binary' ? undefined : this.ajv.compile(schemaView(m.schema, this.view)) };
        }
        const wildcard = Object.keys(checks).find((k) => k === '*/*' || k.endsWith('/*'));
        const untypedKey = jsonKey ?? wildcard;
        check = { media: new MediaMatcher(checks), untyped: untypedKey === undefined ? undefined : checks[untypedKey], untypedIsJson: jsonKey !== undefined };
      }
    }
    this.cache.set(key, check);
    return check;
  }

  /** The fields of `result` that break the contract; empty when it conforms. */
  check(operationId: string, result: OperationResult): FieldError[] {
    const declared = this.declared(operationId, result.status);
    const body = result.body;
    const empty = body === undefined || (Buffer.isBuffer(body) && body.length === 0);
    if (declared === null) {
      const names = Object.keys((this.contract.operation(operationId).raw.responses ?? {}) as Record<string, unknown>);
      // (3.1 allows an operation without responses: nothing to hold the answer to.)
      if (names.length === 0) return [];
      return [{ field: 'response.status', message: `status ${result.status} is not a response of ${operationId} (declared: ${names.join(', ')})` }];
    }
    if (declared.media === undefined) return empty ? [] : [{ field: 'response.body', message: `the contract declares no body for status ${result.status}` }];
    const contentType = resultContentType(result);
    let media: MediaCheck | undefined;
    if (contentType !== undefined) {
      const parsed = parseMediaType(contentType);
      media = parsed ? declared.media.match(parsed)?.value : undefined;
      if (!media) return [{ field: 'response.content-type', message: `${contentType} is not a media type of status ${result.status} (declared: ${declared.media.keys.join(', ')})` }];
      // A JSON answer is checked as JSON even where a wildcard declared it.
      if (media.kind !== 'json' && isJsonMedia(parsed as NonNullable<typeof parsed>) && !Buffer.isBuffer(body) && typeof body !== 'string') media = { ...media, kind: 'json' };
    } else if (empty) {
      media = declared.untypedIsJson ? declared.untyped : undefined;
      if (!media || !media.validate) return [];
    } else {
      media = declared.untyped;
      if (!media) return [{ field: 'response.content-type', message: `a JSON body is not a media type of status ${result.status} (declared: ${declared.media.keys.join(', ')})` }];
    }
    const validate = media.validate;
    if (!validate) return [];
    let value = body;
    if (Buffer.isBuffer(body) && media.kind === 'text') value = body.toString('utf8');
    if (validate(value)) return [];
    return fieldErrors('response', validate.errors);
  }
}
