/**
 * Verifies bearer JWTs with jose: the signature against the issuer's keys (a JWKS URL, cached and
 * refreshed in the background; an unknown `kid` refreshes it at most once per `jwksCooldown`; a
 * failed refresh keeps the keys it has, so calls signed with them go on), or a JWKS/PEM file, or a
 * shared secret for HS algorithms (never together with public keys, so an HS token cannot be
 * checked against an RSA public key); the algorithm against an allow-list (never `none`); `iss`,
 * `aud`, `exp` and `nbf` with a small clock skew. A token that verified is remembered until it
 * expires (as Envoy's jwt_authn cache does), so a client's next calls with it cost a hash and a
 * lookup instead of a signature check; new keys forget every remembered token.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../observability/logger.ts';
import { AuthFailure } from './auth-failure.ts';
import type { JwtSchemeConfig } from './security-config.ts';

/** Tokens longer than this are refused unread. */
const MAX_TOKEN_LENGTH = 8_192;
/** A JWKS document larger than this is refused as garbage. */
const MAX_JWKS_BYTES = 1_000_000;
const KEY_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const SECRET_ALGORITHMS = ['HS256'];
/** A remembered token without `exp` is verified again after this long. */
const REMEMBER_MAX_MS = 5 * 60_000;

/** Reads a JWKS document, or one PEM public key, from a file. */
export function readKeyFile(file: string): JSONWebKeySet {
  const text = readFileSync(file, 'utf8');
  if (text.includes('-----BEGIN')) return { keys: [createPublicKey(text).export({ format: 'jwk' }) as JSONWebKeySet['keys'][number]] };
  return parseJwks(text);
}

export function parseJwks(text: string): JSONWebKeySet {
  const doc = JSON.parse(text) as unknown;
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.some((k) => k === null || typeof k !== 'object' || typeof (k as { kty?: unknown }).kty !== 'string')) {
    throw new Error('not a JWKS document (an object with "keys": [ {kty, ...}, ... ])');
  }
  return doc as JSONWebKeySet;
}

export interface JwksStats {
  refreshes: number;
  failures: number;
}

export class JwtVerifier {
  private keys: JWTVerifyGetKey | undefined;
  private secret: Uint8Array | undefined;
  /** When an unknown kid last made the JWKS be fetched again. */
  private lastMissRefresh = 0;
  private fetching: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly algorithms: string[];
  readonly stats: JwksStats = { refreshes: 0, failures: 0 };
  readonly consumerClaim: string;
  /** Tokens that verified, by SHA-256: their claims and until when they may be taken as verified. */
  private readonly verified = new Map<string, { payload: JWTPayload; until: number }>();

  constructor(
    readonly scheme: string,
    private readonly cfg: JwtSchemeConfig,
    private readonly logger: Logger,
    /** Called on every JWKS fetch with its outcome (for the metric). */
    private readonly onFetch: (ok: boolean) => void = () => undefined,
  ) {
    this.consumerClaim = cfg.consumerClaim;
    this.algorithms = cfg.algorithms ?? (cfg.secret ? SECRET_ALGORITHMS : KEY_ALGORITHMS);
    if (cfg.secret) this.secret = new TextEncoder().encode(cfg.secret);
    if (cfg.jwksFile) this.keys = createLocalJWKSet(readKeyFile(cfg.jwksFile));
  }

  /** Fetches the JWKS once (a failure is logged, not fatal: keys are fetched again on the first call) and starts the background refresh. */
  async start(): Promise<void> {
    if (!this.cfg.jwksUrl) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.cfg.jwksMaxAge);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Fetches the JWKS again (one fetch at a time); true when the keys were replaced. */
  refresh(): Promise<boolean> {
    this.fetching ??= this.fetchJwks().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchJwks(): Promise<boolean> {
    const url = this.cfg.jwksUrl as string;
    this.stats.refreshes++;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.cfg.jwksTimeout), headers: { accept: 'application/json' }, redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('the document is larger than 1 MB');
      this.keys = createLocalJWKSet(parseJwks(text));
      this.verified.clear();
      this.onFetch(true);
      return true;
    } catch (err) {
      this.stats.failures++;
      this.onFetch(false);
      const why = err instanceof Error ? err.message : String(err);
      this.logger.warn({ scheme: this.scheme, jwksUrl: url, error: why, cachedKeys: this.keys !== undefined }, 'could not fetch the JWKS; keeping the keys already known');
      return false;
    }
  }

  /** Tokens remembered as verified now. */
  get remembered(): number {
    return this.verified.size;
  }

  /** The token's claims, or an AuthFailure saying why it is refused. */
  async verify(token: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw new AuthFailure('malformed', 'the bearer token is not a JWT');
    if (this.cfg.verifiedTokens === 0) return this.check(token);
    const id = createHash('sha256').update(token).digest('base64');
    const known = this.verified.get(id);
    const now = Date.now();
    if (known && now < known.until) return known.payload;
    if (known) this.verified.delete(id);
    const payload = Object.freeze(await this.check(token));
    // Until it expires (with the clock skew allowed), and never longer than REMEMBER_MAX_MS.
    const until = Math.min(typeof payload.exp === 'number' ? payload.exp * 1000 + this.cfg.clockSkew : Infinity, now + REMEMBER_MAX_MS);
    if (this.verified.size >= this.cfg.verifiedTokens) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(id, { payload, until });
    return payload;
  }

  private async check(token: string): Promise<JWTPayload> {
    const options = {
      algorithms: this.algorithms,
      issuer: this.cfg.issuer,
      audience: this.cfg.audience,
      clockTolerance: Math.round(this.cfg.clockSkew / 1000),
    };
    try {
      if (this.secret) return (await jwtVerify(token, this.secret, options)).payload;
      const getKey: JWTVerifyGetKey = (h, t) => this.key(h, t);
      return (await jwtVerify(token, getKey, options)).payload;
    } catch (err) {
      throw mapJoseError(err);
    }
  }

  private async key(header: Parameters<JWTVerifyGetKey>[0], token: Parameters<JWTVerifyGetKey>[1]): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    if (!this.keys) {
      if (!this.cfg.jwksUrl || !(await this.refresh()) || !this.keys) throw new AuthFailure('keys-unavailable', "the issuer's keys (JWKS) cannot be fetched now");
    }
    try {
      return await (this.keys as JWTVerifyGetKey)(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !this.cfg.jwksUrl) throw err;
      // An unknown kid: the issuer may have rotated its keys. Fetch them again, at most once a cooldown.
      if (Date.now() - this.lastMissRefresh < this.cfg.jwksCooldown && !this.fetching) throw err;
      this.lastMissRefresh = Date.now();
      if (!(await this.refresh())) throw new AuthFailure('keys-unavailable', "the token's key is not among the issuer's known keys, and the JWKS cannot be fetched now");
      return (this.keys as JWTVerifyGetKey)(header, token);
    }
  }
}

function mapJoseError(err: unknown): AuthFailure {
  if (err instanceof AuthFailure) return err;
  if (err instanceof errors.JWTExpired) return new AuthFailure('expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new AuthFailure('wrong-audience', 'the token is not meant for this API (aud)');
    if (err.claim === 'iss') return new AuthFailure('wrong-issuer', 'the token is not from a trusted issuer (iss)');
    if (err.claim === 'nbf') return new AuthFailure('not-yet-valid', 'the token is not valid yet (nbf)');
    return new AuthFailure('malformed', `the token's ${err.claim} claim is not valid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new AuthFailure('algorithm-not-allowed', "the token's algorithm is not accepted");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthFailure('bad-signature', "the token's signature does not verify");
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return new AuthFailure('bad-signature', "the token's key is not one of the issuer's");
  // JWSInvalid, JWTInvalid, JOSENotSupported, a key of the wrong type for the algorithm, ...
  return new AuthFailure('malformed', 'the bearer token is not a valid JWT');
}

/** The scopes a token grants: `scope` (space-separated) or `scp` (a list or a string). */
export function tokenScopes(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') {
      for (const s of claim.split(' ')) if (s) out.add(s);
    } else if (Array.isArray(claim)) {
      for (const s of claim) if (typeof s === 'string') out.add(s);
    }
  }
  return out;
}
