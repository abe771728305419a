/**
 * The one allow-list of request headers that may be stored anywhere a request is kept (the outbox,
 * the dead-letter queue, recordings, shadow mismatches): a few content headers, the header
 * parameters the contract declares for the operation, and headers named in config (the
 * idempotency header, `recording.headers`). Every other header is dropped, and a credential is
 * dropped even when the contract or config names it: `Authorization`, cookies, and any header whose
 * name says key, token, password, secret, session or credential (`X-Api-Key`, `X-Auth-Token`,
 * `X-Csrf-Token`, `X-Upstream-Password`...).
 */
import type { ContractOperation } from '../contract/contract.ts';

const ALWAYS_KEPT = ['accept', 'accept-language', 'content-type'];
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token', 'x-csrf-token', 'x-xsrf-token']);
const CREDENTIAL_NAME = /(?:^|[-_])(?:auth|authorization|cookie|password|passwd|passphrase|pass|pwd|secret|token|api-?key|apikey|access-?key|private-?key|credentials?|session|signature)(?:[-_]|$)/;

/** True for a header that carries a credential and is never stored. */
export function isCredentialHeader(name: string): boolean {
  const n = name.toLowerCase();
  return CREDENTIAL_HEADERS.has(n) || CREDENTIAL_NAME.test(n);
}

/** The lower-case names of the request headers that may be stored for `op`, with `extra` names from config. */
export function storableHeaderNames(op: ContractOperation | undefined, extra: readonly string[] = []): Set<string> {
  const names = new Set([...ALWAYS_KEPT, ...extra.map((h) => h.toLowerCase()), ...(op?.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase())]);
  for (const n of names) if (isCredentialHeader(n)) names.delete(n);
  return names;
}

/** The headers of `headers` on the allow-list `names` (as `storableHeaderNames` gives), with lower-case names. */
export function storableHeaders(headers: Readonly<Record<string, string>>, names: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const n = k.toLowerCase();
    if (names.has(n) && !isCredentialHeader(n)) out[n] = v;
  }
  return out;
}

/** Drops credential headers (for what is returned, e.g. a response's `set-cookie`, or as a last guard before a store writes). */
export function withoutCredentialHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!isCredentialHeader(k)) out[k] = v;
  return out;
}
