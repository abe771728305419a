/**
 * `http basic` credentials: users and scrypt hashes (never passwords) from an environment variable
 * (`user:hash,user:hash`) or a secrets file (`user:hash` lines). Hashes are made by
 * `ficus consumers hash-password`. A password that verified is remembered (as a SHA-256 of user and
 * password, never in clear) for a few minutes, so a caller does not pay scrypt on every request.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));

const HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;
const REMEMBER_MS = 5 * 60_000;
const MAX_REMEMBERED = 1_000;

/** An scrypt hash of a password in the form the credentials take. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const N = 16384;
  const key = await scrypt(password, salt, 32, { N, r: 8, p: 1 });
  return `scrypt$${N}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Parses `user:hash` entries; throws with the entry's position for a malformed one. */
export function parseCredentials(text: string, separator: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  text
    .split(separator)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .forEach((entry, i) => {
      const colon = entry.indexOf(':');
      const user = entry.slice(0, colon);
      const hash = entry.slice(colon + 1);
      if (colon < 1 || !HASH.test(hash)) throw new Error(`entry ${i + 1} is not user:scrypt$N$r$p$salt$hash (make one with: ficus consumers hash-password)`);
      out.set(user, hash);
    });
  return out;
}

export function loadCredentials(opts: { file?: string; envValue?: string }): Map<string, string> {
  const all = new Map<string, string>();
  if (opts.envValue) for (const [u, h] of parseCredentials(opts.envValue, /,/)) all.set(u, h);
  if (opts.file) for (const [u, h] of parseCredentials(readFileSync(opts.file, 'utf8'), /\r?\n/)) all.set(u, h);
  return all;
}

export class BasicCredentials {
  private readonly remembered = new Map<string, { user: string; until: number }>();

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  /** The user's name when the password matches its hash; undefined otherwise. */
  async verify(user: string, password: string): Promise<string | undefined> {
    const hash = this.users.get(user);
    if (hash === undefined) return undefined;
    const memo = createHash('sha256').update(user).update('\0').update(password).digest('base64url');
    const seen = this.remembered.get(memo);
    if (seen && seen.until > Date.now()) return seen.user;
    const m = HASH.exec(hash) as RegExpExecArray;
    const expected = Buffer.from(m[5], 'base64url');
    const got = await scrypt(password, Buffer.from(m[4], 'base64url'), expected.length, { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), maxmem: 256 * 1024 * 1024 });
    if (!timingSafeEqual(got, expected)) return undefined;
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
    this.remembered.set(memo, { user, until: Date.now() + REMEMBER_MS });
    return user;
  }
}
