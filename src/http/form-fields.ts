/**
 * The fields of a form or multipart body as the request check sees them: an object of the fields
 * (a repeated name becomes an array), a field written as JSON (its `encoding.contentType` says so,
 * or its schema is an object) parsed, a field that is not valid JSON refused naming it.
 */
import { PROBLEMS, Problem } from '../problem.ts';

/** Per property of a form or multipart body: the media type its value is written in (`encoding`). */
export type FieldEncodings = Record<string, { contentType?: string }>;

export function isJsonType(type: string): boolean {
  const essence = type.split(';')[0].trim().toLowerCase();
  return essence === 'application/json' || (essence.includes('/') && essence.endsWith('+json'));
}

/** Whether the contract has the field written as JSON: its encoding names a JSON type, or (no encoding) its schema is an object. */
export function jsonByContract(name: string, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): boolean {
  const ct = encodings?.[name]?.contentType;
  return ct !== undefined ? ct.split(',').some(isJsonType) : objectFields.has(name);
}

export function jsonField(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Problem(PROBLEMS.validation, { detail: `body.${name}: is not valid JSON`, errors: [{ field: `body.${name}`, message: 'is not valid JSON' }] });
  }
}

export function addField(out: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') return;
  const prev = out[name];
  out[name] = prev === undefined ? value : Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
}

/** A field of an urlencoded form, decoded as the contract has it written. */
export function decodeField(name: string, value: string, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): unknown {
  return jsonByContract(name, encodings, objectFields) ? jsonField(name, value) : value;
}

/**
 * Whether a part's media type is one its `encoding.contentType` allows: a media type, a wildcard
 * (`image/*`), or a comma-separated list of them; no encoding allows any.
 */
export function encodingAllows(allowed: string | undefined, type: string): boolean {
  if (allowed === undefined) return true;
  const sent = type.split(';')[0].trim().toLowerCase();
  return allowed.split(',').some((entry) => {
    const want = entry.split(';')[0].trim().toLowerCase();
    if (want === '' || want === '*/*' || want === sent) return true;
    return want.endsWith('/*') && sent.startsWith(want.slice(0, -1));
  });
}
