/**
 * Credentials for the conformance runner's requests. express-openapi-validator's cases run eov
 * without security handlers (it checks only that a credential is there) and send placeholders:
 * `X-API-Key: test`, `Authorization: Bearer XXX`, `Cookie: JSESSIONID=dwdwdwdwd`, `?key=abc`,
 * `Authorization: Basic <demo:p@55w0rd>`. Ficus verifies credentials, so the runner sets its front
 * door up from the contract's securitySchemes with credentials standing for those placeholders:
 *
 * - every API key a case sends (in the header, query parameter or cookie a scheme names) is issued
 *   by Ficus to a consumer of its own (`eov-key-<n>`), and the case sends that key instead;
 * - every bearer token becomes a JWT signed with a secret the runner gives every bearer, oauth2 and
 *   openIdConnect scheme (`security.schemes.<name>.secret: ${env:CONFORMANCE_JWT_SECRET}`), its `sub` `eov-bearer-<n>`, granting
 *   every scope the contract's requirements name;
 * - basic credentials are kept as sent: the user and an scrypt hash of the password go into
 *   FICUS_BASIC_CREDENTIALS.
 *
 * Nothing else of a case changes. A placeholder itself is never valid (Ficus's keys have their own
 * form), which the runner checks too.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Contract } from '../../src/contract/contract.ts';
import { hashPassword } from '../../src/security/basic-credentials.ts';
import type { ConsumerStore } from '../../src/security/consumer-store.ts';
import { operationSecurity, securitySchemes, type SecurityScheme } from '../../src/security/contract-security.ts';

export interface CaseRequest {
  /** `GET /path?query` */
  req: string;
  headers?: Record<string, string>;
}

function cookiePairs(header: string): [string, string][] {
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq === -1 ? [p, ''] : [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
    });
}

function queryParts(target: string): { path: string; parts: string[] } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, parts: [] } : { path: target.slice(0, q), parts: target.slice(q + 1).split('&') };
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export class CaseCredentials {
  private readonly schemes: Map<string, SecurityScheme>;
  private readonly secret = randomBytes(32).toString('base64url');
  private readonly apiKeys = new Map<string, string>();
  private readonly bearers = new Map<string, string>();
  private readonly basicUsers = new Map<string, string>();
  private readonly scopes = new Set<string>();

  constructor(private readonly contract: Contract) {
    this.schemes = securitySchemes(contract);
    for (const op of contract.all()) for (const alt of operationSecurity(contract, op).alternatives) for (const { scopes } of alt) for (const s of scopes) this.scopes.add(s);
  }

  /** Whether the contract declares any security scheme. */
  get any(): boolean {
    return this.schemes.size > 0;
  }

  private ofKind(kind: SecurityScheme['kind'], where?: 'header' | 'query' | 'cookie'): SecurityScheme[] {
    return [...this.schemes.values()].filter((s) => s.kind === kind && (where === undefined || (s.kind === 'apiKey' && s.in === where)));
  }

  private apiKeyNamed(where: 'header' | 'query' | 'cookie', name: string): boolean {
    return this.ofKind('apiKey', where).some((s) => s.kind === 'apiKey' && (where === 'header' ? s.name === name.toLowerCase() : s.name === name));
  }

  private get takesJwt(): boolean {
    return this.ofKind('bearer').length > 0 || this.ofKind('oauth').length > 0;
  }

  /** Notes the placeholders a request sends (call for every case before `configure`). */
  note(c: CaseRequest): void {
    for (const [k, v] of Object.entries(c.headers ?? {})) {
      const name = k.toLowerCase();
      if (name === 'authorization') {
        const space = v.indexOf(' ');
        const scheme = v.slice(0, space).toLowerCase();
        const value = v.slice(space + 1).trim();
        if (scheme === 'bearer' && this.takesJwt) this.bearers.set(value, '');
        else if (scheme === 'basic' && this.ofKind('basic').length > 0) {
          const text = Buffer.from(value, 'base64').toString('utf8');
          const colon = text.indexOf(':');
          if (colon > 0) this.basicUsers.set(text.slice(0, colon), text.slice(colon + 1));
        }
      } else if (name === 'cookie') {
        for (const [n, val] of cookiePairs(v)) if (this.apiKeyNamed('cookie', n)) this.apiKeys.set(val, '');
      }
      if (this.apiKeyNamed('header', name)) this.apiKeys.set(v, '');
    }
    for (const part of queryParts(c.req.slice(c.req.indexOf(' ') + 1)).parts) {
      const eq = part.indexOf('=');
      if (eq !== -1 && this.apiKeyNamed('query', decoded(part.slice(0, eq)))) this.apiKeys.set(decoded(part.slice(eq + 1)), '');
    }
  }

  /** ficus.yaml's `security:` and the environment the gateway starts with. */
  async configure(): Promise<{ security: { schemes: Record<string, { secret: string }> }; env: Record<string, string> }> {
    const schemes: Record<string, { secret: string }> = {};
    const env: Record<string, string> = {};
    for (const [name, s] of this.schemes) {
      if (s.kind !== 'bearer' && s.kind !== 'oauth') continue;
      schemes[name] = { secret: '${env:CONFORMANCE_JWT_SECRET}' };
      env.CONFORMANCE_JWT_SECRET = this.secret;
    }
    if (this.ofKind('basic').length > 0) {
      // One user nobody can log in as, so that a contract whose cases send no basic credentials still starts.
      const entries = [`eov-nobody:${await hashPassword(randomBytes(16).toString('hex'))}`];
      for (const [user, password] of this.basicUsers) entries.push(`${user}:${await hashPassword(password)}`);
      env.FICUS_BASIC_CREDENTIALS = entries.join(',');
    }
    return { security: { schemes }, env };
  }

  /** Issues a key for every API key placeholder, and signs a token for every bearer placeholder. */
  async issue(consumers: ConsumerStore): Promise<void> {
    let n = 0;
    for (const placeholder of this.apiKeys.keys()) {
      const consumer = `eov-key-${++n}`;
      await consumers.addConsumer(consumer, 'conformance runner');
      this.apiKeys.set(placeholder, (await consumers.issueKey(consumer)).key);
    }
    const secret = new TextEncoder().encode(this.secret);
    n = 0;
    for (const placeholder of this.bearers.keys()) {
      const claims = this.scopes.size > 0 ? { scope: [...this.scopes].join(' ') } : {};
      const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(`eov-bearer-${++n}`).setIssuedAt().setExpirationTime('1h').sign(secret);
      this.bearers.set(placeholder, jwt);
    }
  }

  /** The request with every placeholder swapped for what stands for it; `swapped` says whether any was. */
  swap<T extends CaseRequest>(c: T): { request: T; swapped: boolean } {
    let swapped = false;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.headers ?? {})) {
      const name = k.toLowerCase();
      let value = v;
      if (name === 'authorization') {
        const space = v.indexOf(' ');
        const token = this.bearers.get(v.slice(space + 1).trim());
        if (v.slice(0, space).toLowerCase() === 'bearer' && token) value = `Bearer ${token}`;
      } else if (name === 'cookie') {
        value = cookiePairs(v)
          .map(([n, val]) => `${n}=${this.apiKeyNamed('cookie', n) ? (this.apiKeys.get(val) ?? val) : val}`)
          .join('; ');
      } else if (this.apiKeyNamed('header', name)) value = this.apiKeys.get(v) ?? v;
      if (value !== v) swapped = true;
      headers[k] = value;
    }
    const space = c.req.indexOf(' ');
    const { path, parts } = queryParts(c.req.slice(space + 1));
    const query = parts.map((part) => {
      const eq = part.indexOf('=');
      if (eq === -1 || !this.apiKeyNamed('query', decoded(part.slice(0, eq)))) return part;
      const key = this.apiKeys.get(decoded(part.slice(eq + 1)));
      if (key === undefined) return part;
      swapped = true;
      return `${part.slice(0, eq)}=${encodeURIComponent(key)}`;
    });
    const req = `${c.req.slice(0, space)} ${path}${parts.length > 0 ? `?${query.join('&')}` : ''}`;
    return { request: { ...c, req, ...(c.headers ? { headers } : {}) }, swapped };
  }

  /** Whether an operation lets anyone in (an empty alternative, or no requirement). */
  anonymous(operationId: string): boolean {
    return operationSecurity(this.contract, this.contract.operation(operationId)).anonymous;
  }
}
