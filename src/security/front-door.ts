/**
 * The front door: each operation's security requirements, from the contract, checked before the
 * request is read any further. Alternatives are tried in order (OR); every scheme of one alternative
 * must admit the caller (AND); a scheme is checked once per request however many alternatives name
 * it. The answer: the consumer's name (undefined for an anonymous call), or a problem: 401 with
 * `WWW-Authenticate` naming the operation's schemes, 403 naming the missing scopes, 503 when the
 * issuer's keys cannot be had. Nothing of a credential is ever put in a problem or a log line.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JWTPayload } from 'jose';
import type { Contract } from '../contract/contract.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import { AuthFailure } from './auth-failure.ts';
import type { BasicCredentials } from './basic-credentials.ts';
import type { ConsumerStore } from './consumer-store.ts';
import { operationSecurity, securitySchemes, type OperationSecurity, type SecurityScheme } from './contract-security.ts';
import { tokenScopes, type JwtVerifier } from './jwt-verifier.ts';

export interface DoorDeps {
  keys: ConsumerStore;
  /** By scheme name: bearer, oauth2 and openIdConnect schemes. */
  verifiers: ReadonlyMap<string, JwtVerifier>;
  /** By scheme name: http basic schemes. */
  basic: ReadonlyMap<string, BasicCredentials>;
  /** Each scheme checked, with its outcome (`ok` or a failure reason). */
  counted: (scheme: string, outcome: string) => void;
}

type SchemeOutcome = { ok: true; consumer: string; scopes?: Set<string> } | { ok: false; failure: AuthFailure };

interface Plan {
  security: OperationSecurity;
  challenge: string;
}

export interface Admitted {
  /** The consumer's name; undefined when the operation lets anyone in and no credential was checked. */
  consumer: string | undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    // A value that is not valid percent-encoding is taken as sent (and then is no key): a 401, never a 500.
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

function queryValue(rawQuery: string, name: string): string | undefined {
  return rawQuery === '' ? undefined : (new URLSearchParams(rawQuery).get(name) ?? undefined);
}

function authorization(headers: IncomingHttpHeaders, scheme: 'basic' | 'bearer'): string | undefined {
  const h = headers.authorization;
  if (typeof h !== 'string') return undefined;
  const space = h.indexOf(' ');
  if (space === -1 || h.slice(0, space).toLowerCase() !== scheme) return undefined;
  return h.slice(space + 1).trim();
}

function describe(name: string, s: SecurityScheme): string {
  switch (s.kind) {
    case 'apiKey':
      return `an API key in the ${s.in === 'header' ? `${s.name} header` : s.in === 'query' ? `"${s.name}" query parameter` : `"${s.name}" cookie`} (${name})`;
    case 'basic':
      return `Authorization: Basic (${name})`;
    default:
      return `Authorization: Bearer <token> (${name})`;
  }
}

export class FrontDoor {
  private readonly schemes: Map<string, SecurityScheme>;
  private readonly plans = new Map<string, Plan>();

  constructor(
    contract: Contract,
    private readonly deps: DoorDeps,
  ) {
    this.schemes = securitySchemes(contract);
    for (const op of contract.all()) {
      const security = operationSecurity(contract, op);
      if (security.anonymous && security.alternatives.length === 0) continue;
      const challenges = security.schemes.map((name) => {
        const s = this.schemes.get(name) as SecurityScheme;
        if (s.kind === 'basic') return `Basic realm="ficus", charset="UTF-8"`;
        if (s.kind === 'apiKey') return `ApiKey realm="ficus", in="${s.in}", name="${s.name}"`;
        return `Bearer realm="ficus"`;
      });
      this.plans.set(op.operationId, { security, challenge: [...new Set(challenges)].join(', ') });
    }
  }

  /** Whether anything is checked for this operation. */
  guards(operationId: string): boolean {
    return this.plans.has(operationId);
  }

  /** Checks a request; resolves to the consumer, or rejects with a problem. */
  async admit(operationId: string, headers: IncomingHttpHeaders, rawQuery: string): Promise<Admitted> {
    const plan = this.plans.get(operationId);
    if (!plan) return { consumer: undefined };
    const { security } = plan;
    const seen = new Map<string, SchemeOutcome>();
    const check = async (name: string): Promise<SchemeOutcome> => {
      let o = seen.get(name);
      if (!o) {
        o = await this.checkScheme(name, headers, rawQuery);
        seen.set(name, o);
        this.deps.counted(name, o.ok ? 'ok' : o.failure.reason);
      }
      return o;
    };
    const missingScopes: string[] = [];
    let failure: AuthFailure | undefined;
    for (const alt of security.alternatives) {
      let consumer: string | undefined;
      let admitted = true;
      const lacking: string[] = [];
      for (const { scheme, scopes } of alt) {
        const o = await check(scheme);
        if (!o.ok) {
          // The most telling failure: a credential that was sent and refused over one not sent at all.
          if (!failure || failure.reason === 'missing' || o.failure.unavailable) failure = o.failure;
          admitted = false;
          break;
        }
        consumer ??= o.consumer;
        if (scopes.length > 0) {
          const granted = o.scopes ?? new Set<string>();
          for (const s of scopes) if (!granted.has(s)) lacking.push(s);
        }
      }
      if (!admitted) continue;
      if (lacking.length === 0) return { consumer };
      for (const s of lacking) if (!missingScopes.includes(s)) missingScopes.push(s);
    }
    if (security.anonymous) return { consumer: undefined };
    if (missingScopes.length > 0) {
      throw new Problem(PROBLEMS.forbidden, {
        detail: `the credentials are valid but lack the scope${missingScopes.length > 1 ? 's' : ''} ${operationId} needs: ${missingScopes.join(', ')}`,
        extensions: { missingScopes },
      });
    }
    if (failure?.unavailable) {
      throw new Problem(PROBLEMS.credentialsUnverifiable, { detail: `${failure.message}; try again shortly`, headers: { 'Retry-After': '5' } });
    }
    const wanted = security.schemes.map((n) => describe(n, this.schemes.get(n) as SecurityScheme));
    const detail = !failure || failure.reason === 'missing' ? `${operationId} needs credentials: send ${wanted.join(', or ')}` : `${failure.message}; ${operationId} needs ${wanted.join(', or ')}`;
    throw new Problem(PROBLEMS.unauthorized, { detail, headers: { 'WWW-Authenticate': plan.challenge } });
  }

  private async checkScheme(name: string, headers: IncomingHttpHeaders, rawQuery: string): Promise<SchemeOutcome> {
    const s = this.schemes.get(name);
    try {
      if (!s) throw new AuthFailure('missing', `security scheme ${name} is not defined`);
      if (s.kind === 'apiKey') {
        const raw = s.in === 'header' ? headers[s.name] : s.in === 'query' ? queryValue(rawQuery, s.name) : cookieValue(headers.cookie, s.name);
        const key = Array.isArray(raw) ? raw[0] : raw;
        if (key === undefined || key === '') throw new AuthFailure('missing', 'no API key was sent');
        const found = await this.deps.keys.lookup(key);
        if (!found) throw new AuthFailure('unknown-key', 'the API key is not valid (unknown, revoked or expired)');
        return { ok: true, consumer: found.consumer };
      }
      if (s.kind === 'basic') {
        const value = authorization(headers, 'basic');
        if (value === undefined) throw new AuthFailure('missing', 'no basic credentials were sent');
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 1 || value.length > 1024) throw new AuthFailure('malformed', 'the basic credentials are not user:password in base64');
        const user = await this.deps.basic.get(name)?.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
        if (!user) throw new AuthFailure('bad-credentials', 'the user name or password is wrong');
        return { ok: true, consumer: user };
      }
      const token = authorization(headers, 'bearer');
      if (token === undefined || token === '') throw new AuthFailure('missing', 'no bearer token was sent');
      const verifier = this.deps.verifiers.get(name);
      if (!verifier) throw new AuthFailure('keys-unavailable', `no issuer is configured for ${name}`);
      const payload: JWTPayload = await verifier.verify(token);
      const claim = verifier.consumerClaim;
      const consumer = payload[claim];
      if (typeof consumer !== 'string' || consumer === '') throw new AuthFailure('no-consumer-claim', `the token has no "${claim}" claim naming the caller`);
      return { ok: true, consumer, scopes: tokenScopes(payload) };
    } catch (err) {
      if (err instanceof AuthFailure) return { ok: false, failure: err };
      throw err;
    }
  }
}
