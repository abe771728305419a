/**
 * What the contract says about who may call an operation: `components.securitySchemes` and each
 * operation's `security` (or the document's, inherited). A requirement list is a choice of
 * alternatives (OR); the schemes inside one alternative must all be satisfied (AND); an empty list
 * (`security: []`) or an empty alternative (`{}`) lets anyone in.
 */
import type { Contract, ContractOperation } from '../contract/contract.ts';

export type SecurityScheme =
  | { kind: 'apiKey'; name: string; in: 'header' | 'query' | 'cookie' }
  | { kind: 'basic' }
  | { kind: 'bearer' }
  /** oauth2 and openIdConnect: a bearer JWT whose scopes are checked. */
  | { kind: 'oauth'; type: 'oauth2' | 'openIdConnect' };

export interface NamedScheme {
  name: string;
  scheme: SecurityScheme;
}

/** One alternative: every scheme in it, with the scopes the operation needs of it. */
export type Requirement = { scheme: string; scopes: string[] }[];

export interface OperationSecurity {
  /** Empty: nothing is required. Otherwise the alternatives, any one of which admits the caller. */
  alternatives: Requirement[];
  /** True when one alternative is `{}`, or the list is empty: anyone may call. */
  anonymous: boolean;
  /** Every scheme named by the alternatives (for `WWW-Authenticate`). */
  schemes: string[];
}

/** The contract's security schemes, by name; a scheme Ficus cannot enforce is an error at start-up. */
export function securitySchemes(contract: Contract): Map<string, SecurityScheme> {
  const out = new Map<string, SecurityScheme>();
  const components = contract.document.components as { securitySchemes?: Record<string, unknown> } | undefined;
  for (const [name, raw] of Object.entries(components?.securitySchemes ?? {})) {
    const s = contract.deref(raw) as Record<string, unknown>;
    const type = s.type;
    if (type === 'apiKey') {
      const where = s.in;
      if (where !== 'header' && where !== 'query' && where !== 'cookie') throw new Error(`${contract.file}: components.securitySchemes.${name}.in must be header, query or cookie`);
      if (typeof s.name !== 'string' || s.name === '') throw new Error(`${contract.file}: components.securitySchemes.${name}.name is missing`);
      out.set(name, { kind: 'apiKey', name: where === 'header' ? s.name.toLowerCase() : s.name, in: where });
    } else if (type === 'http') {
      const scheme = String(s.scheme ?? '').toLowerCase();
      if (scheme === 'basic') out.set(name, { kind: 'basic' });
      else if (scheme === 'bearer') out.set(name, { kind: 'bearer' });
      else throw new Error(`${contract.file}: components.securitySchemes.${name}: http scheme "${scheme}" is not one Ficus enforces (basic, bearer)`);
    } else if (type === 'oauth2' || type === 'openIdConnect') {
      out.set(name, { kind: 'oauth', type });
    } else {
      throw new Error(`${contract.file}: components.securitySchemes.${name}: type "${String(type)}" is not one Ficus enforces (apiKey, http, oauth2, openIdConnect)`);
    }
  }
  return out;
}

/** The requirements of one operation: its own `security`, or the document's. */
export function operationSecurity(contract: Contract, operation: ContractOperation): OperationSecurity {
  const raw = (operation.raw.security ?? contract.document.security) as unknown;
  if (raw === undefined) return { alternatives: [], anonymous: true, schemes: [] };
  if (!Array.isArray(raw)) throw new Error(`${contract.file}: security of ${operation.operationId} must be a list`);
  const alternatives: Requirement[] = [];
  let anonymous = raw.length === 0;
  const schemes = new Set<string>();
  for (const alt of raw as unknown[]) {
    const entries = Object.entries((alt ?? {}) as Record<string, unknown>);
    if (entries.length === 0) {
      anonymous = true;
      continue;
    }
    alternatives.push(
      entries.map(([scheme, scopes]) => {
        schemes.add(scheme);
        return { scheme, scopes: Array.isArray(scopes) ? scopes.map(String) : [] };
      }),
    );
  }
  return { alternatives, anonymous, schemes: [...schemes] };
}

/**
 * The query parameters that carry an API key for this operation: credentials, not parameters of
 * the operation, so the request check neither refuses them nor passes them on.
 */
export function credentialQueryNames(contract: Contract, operation: ContractOperation): string[] {
  let schemes: Map<string, SecurityScheme>;
  try {
    schemes = securitySchemes(contract);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const alt of operationSecurity(contract, operation).alternatives) {
    for (const { scheme } of alt) {
      const s = schemes.get(scheme);
      if (s?.kind === 'apiKey' && s.in === 'query' && !names.includes(s.name)) names.push(s.name);
    }
  }
  return names;
}
