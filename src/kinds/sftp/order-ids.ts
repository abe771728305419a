/**
 * Deterministic ids for request/reply writes. The id of a record is derived from the caller's
 * Idempotency-Key (and the record's index in a batch), so that a redelivered request (a retry, or
 * an outbox replay) writes the very same id, which the legacy batch job recognises and answers with
 * its original outcome instead of processing it twice.
 */
import { createHash } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U

function base32(bytes: Buffer, length: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= length) break;
  }
  return out;
}

/** `prefix` + base32 of SHA-256(scope, key[, index]), `length` characters in all. */
export function deriveId(prefix: string, length: number, scope: string, key: string, index?: number): string {
  const h = createHash('sha256').update(scope).update('\0').update(key);
  if (index !== undefined) h.update('\0').update(String(index));
  return prefix + base32(h.digest(), Math.max(4, length - prefix.length));
}
