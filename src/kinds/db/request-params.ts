/**
 * Named SQL parameters bound from the request: `customerId: path.customerId` or, with a type, a
 * conversion to the column's form and a default,
 *   sinceDate: { from: query.updatedSince, as: yyyymmdd, default: 0 }
 * Values are checked against their type on every call (a 400 problem names the parameter), then
 * sent to the driver apart from the statement: no value can change the statement.
 */
import { z } from 'zod';
import type { ContractOperation } from '../../contract/contract.ts';
import type { OperationRequest } from '../kind.ts';
import { problems } from '../../problem.ts';
import { ConversionError, toCyymmdd, toFlag, toHhmmss, toImpliedDecimal, toYyyymmdd } from './legacy-values.ts';

export type SqlValue = string | number | boolean | null;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const paramObjectSchema = z
  .object({
    /** `path.<name>`, `query.<name>` or `header.<name>`. */
    from: z.string(),
    /** Checked on every call; default: the contract parameter's type. */
    type: z.enum(['integer', 'number', 'string', 'boolean']).optional(),
    /** Conversion to the column's form. */
    as: z.enum(['value', 'yyyymmdd', 'cyymmdd', 'hhmmss', 'flag', 'decimal', 'upper', 'char']).default('value'),
    /** Digits after the implied point (`as: decimal`). */
    scale: z.number().int().min(0).max(12).optional(),
    /** Width a CHAR column pads to (`as: char`): the value is padded with blanks. */
    width: z.number().int().min(1).max(8000).optional(),
    /** Used when the request does not carry the value. */
    default: scalar.optional(),
    /** Longest string accepted (default: the contract's maxLength, else 4000). */
    maxLength: z.number().int().min(1).optional(),
  })
  .strict();

export const paramSpecSchema = z.union([z.string(), paramObjectSchema]);
export type ParamSpec = z.infer<typeof paramSpecSchema>;

export class ParamConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'ParamConfigError';
  }
}

export type ParamReader = (req: OperationRequest) => SqlValue;

type Source = 'path' | 'query' | 'header';
const INTEGER = /^-?\d{1,15}$/;
const SOURCE_PARAM: Record<Source, 'path' | 'query' | 'header'> = { path: 'path', query: 'query', header: 'header' };

/** Builds the reader of one named parameter; refuses sources the operation does not have. */
export function compileParam(name: string, raw: ParamSpec, op: ContractOperation): ParamReader {
  const spec = typeof raw === 'string' ? paramObjectSchema.parse({ from: raw }) : raw;
  const key = typeof raw === 'string' ? `params.${name}` : `params.${name}.from`;
  const m = /^(path|query|header)\.(.+)$/.exec(spec.from);
  if (!m) throw new ParamConfigError(key, `"${spec.from}" is not a request value`, 'write path.<name>, query.<name> or header.<name>');
  const source = m[1] as Source;
  const field = source === 'header' ? m[2].toLowerCase() : m[2];
  const contractParam = op.parameters.find((p) => p.in === SOURCE_PARAM[source] && (source === 'header' ? p.name.toLowerCase() === field : p.name === field));
  if (!contractParam) {
    const known = op.parameters.filter((p) => p.in === source).map((p) => `${source}.${p.name}`);
    throw new ParamConfigError(key, `${op.operationId} has no ${source} parameter "${m[2]}"`, known.length > 0 ? `use one of: ${known.join(', ')}` : `${op.operationId} has no ${source} parameters`);
  }
  const schemaType = contractParam.schema.type;
  const type = spec.type ?? (schemaType === 'integer' || schemaType === 'number' || schemaType === 'boolean' ? schemaType : 'string');
  const maxLength = spec.maxLength ?? (typeof contractParam.schema.maxLength === 'number' ? contractParam.schema.maxLength : 4000);
  if (spec.as === 'decimal' && spec.scale === undefined) throw new ParamConfigError(`params.${name}.scale`, 'as: decimal needs scale', 'say how many digits are implied, e.g. scale: 2');
  if (spec.as === 'char' && spec.width === undefined) throw new ParamConfigError(`params.${name}.width`, 'as: char needs width', "give the CHAR column's width, e.g. width: 10");
  const label = `${source} parameter ${m[2]}`;

  const bad = (message: string) => problems.validation(`${label}: ${message}`, [{ field: `${source}.${m[2]}`, message }]);

  // The check and the conversion are chosen here, once; per call only the value is looked at.
  let check: (v: unknown) => SqlValue;
  switch (type) {
    case 'integer':
      check = (v) => {
        const n = typeof v === 'string' && INTEGER.test(v) ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw bad(`must be an integer, got ${JSON.stringify(v)}`);
        return n;
      };
      break;
    case 'number':
      check = (v) => {
        const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(`must be a number, got ${JSON.stringify(v)}`);
        return n;
      };
      break;
    case 'boolean':
      check = (v) => {
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === 'false') return v === 'true';
        throw bad(`must be true or false, got ${JSON.stringify(v)}`);
      };
      break;
    default:
      check = (v) => {
        if (typeof v !== 'string') throw bad(`must be a string, got ${JSON.stringify(v)}`);
        if (v.length > maxLength) throw bad(`must be at most ${maxLength} characters`);
        if (v.includes('\0')) throw bad('must not contain NUL characters');
        return v;
      };
  }

  const conversion = ((): ((v: SqlValue) => SqlValue) | undefined => {
    switch (spec.as) {
      case 'yyyymmdd':
        return toYyyymmdd;
      case 'cyymmdd':
        return toCyymmdd;
      case 'hhmmss':
        return toHhmmss;
      case 'flag':
        return toFlag;
      case 'decimal': {
        const scale = spec.scale ?? 0;
        return (v) => toImpliedDecimal(v, scale);
      }
      case 'upper':
        return (v) => String(v).toUpperCase();
      case 'char': {
        const width = spec.width ?? 0;
        return (v) => String(v).padEnd(width, ' ');
      }
      default:
        return undefined;
    }
  })();
  const convert =
    conversion &&
    ((v: SqlValue): SqlValue => {
      try {
        return conversion(v);
      } catch (err) {
        if (err instanceof ConversionError) throw bad(err.message);
        throw err;
      }
    });

  const fallback = spec.default;
  const valueOf =
    source === 'path' ? (req: OperationRequest) => req.pathParams[field] : source === 'query' ? (req: OperationRequest) => req.query[field] : (req: OperationRequest) => req.headers[field];
  const missing = (): SqlValue => {
    if (fallback !== undefined) return fallback;
    throw bad('is required');
  };
  if (convert === undefined) {
    return (req) => {
      const v = valueOf(req);
      if (v === undefined || v === null || v === '') return missing();
      if (Array.isArray(v)) throw bad('must be given once');
      return check(v);
    };
  }
  return (req) => {
    const v = valueOf(req);
    if (v === undefined || v === null || v === '') return missing();
    if (Array.isArray(v)) throw bad('must be given once');
    return convert(check(v));
  };
}
