/**
 * Checks what a backend answered against the contract before it is sent, with ajv validators
 * compiled once per operation and status. A violation is never passed on: the caller gets a 502
 * problem naming each field (request-validator.ts checks the other direction).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Contract } from '../contract/contract.ts';
import type { OperationResult } from '../kinds/kind.ts';
import type { FieldError } from '../problem.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export function ajvPathToField(prefix: string, instancePath: string): string {
  let out = prefix;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : `.${key}`;
  }
  return out;
}

export class ResponseValidator {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction | null>();

  constructor(private readonly contract: Contract) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
  }

  /** The fields of `result` that break the contract; empty when it conforms. */
  check(operationId: string, result: OperationResult): FieldError[] {
    const key = `${operationId} ${result.status}`;
    let validate = this.cache.get(key);
    if (validate === undefined) {
      const schema = this.contract.responseSchema(operationId, result.status);
      validate = schema === undefined ? null : this.ajv.compile(schema);
      this.cache.set(key, validate);
    }
    if (validate === null) {
      const op = this.contract.operation(operationId);
      const declared = Object.keys(op.responses);
      if (!declared.includes(String(result.status)) && !declared.includes(`${String(result.status)[0]}XX`) && !declared.includes('default')) {
        return [{ field: 'response.status', message: `status ${result.status} is not a response of ${operationId} (declared: ${declared.join(', ')})` }];
      }
      return result.body === undefined ? [] : [{ field: 'response.body', message: `the contract declares no body for status ${result.status}` }];
    }
    if (validate(result.body)) return [];
    return (validate.errors ?? []).map((e) => {
      const extra =
        e.keyword === 'additionalProperties'
          ? `.${String((e.params as { additionalProperty?: string }).additionalProperty)}`
          : e.keyword === 'required'
            ? `.${String((e.params as { missingProperty?: string }).missingProperty)}`
            : '';
      return { field: ajvPathToField('response', e.instancePath) + extra, message: e.message ?? e.keyword };
    });
  }
}
