/**
 * Host-key checking against an OpenSSH known_hosts file: plain (`host`, `[host]:port`, lists and
 * `*`/`?` patterns), hashed (`|1|salt|hash`) and `@revoked` entries. A key that is not listed is
 * refused, and the error gives the line to add after checking the fingerprint out of band.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface Entry {
  hosts: string[];
  keyType: string;
  key: Buffer;
  revoked: boolean;
}

export class HostKeyError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}; ${fix}`);
    this.name = 'HostKeyError';
  }
}

function patternMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'i',
  );
  return re.test(name);
}

function hostMatches(entryHost: string, names: string[]): boolean {
  if (entryHost.startsWith('|1|')) {
    const [, , salt, hash] = entryHost.split('|');
    if (!salt || !hash) return false;
    return names.some((n) => createHmac('sha1', Buffer.from(salt, 'base64')).update(n).digest('base64') === hash);
  }
  return names.some((n) => patternMatch(entryHost, n));
}

/** The key type written inside an SSH public key blob. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('latin1');
}

export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

export class KnownHosts {
  private constructor(
    private readonly entries: Entry[],
    readonly source: string,
  ) {}

  static parse(text: string, source: string): KnownHosts {
    const entries: Entry[] = [];
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      let revoked = false;
      if (parts[0].startsWith('@')) {
        if (parts[0] === '@revoked') revoked = true;
        else continue; // @cert-authority: certificates are not used here
        parts.shift();
      }
      if (parts.length < 3) continue;
      entries.push({ hosts: parts[0].split(','), keyType: parts[1], key: Buffer.from(parts[2], 'base64'), revoked });
    }
    return new KnownHosts(entries, source);
  }

  static load(file: string): KnownHosts {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new HostKeyError(
        `cannot read the known-hosts file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        'set connection.knownHosts to an OpenSSH known_hosts file that lists the server',
      );
    }
    return KnownHosts.parse(text, file);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Throws a HostKeyError unless `key` is listed for the host and not revoked. */
  verify(host: string, port: number, key: Buffer): void {
    const names = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
    const type = keyTypeOf(key);
    const line = `${port === 22 ? host : `[${host}]:${port}`} ${type} ${key.toString('base64')}`;
    for (const e of this.entries) {
      if (e.revoked && e.key.equals(key))
        throw new HostKeyError(`the host key of ${host}:${port} (${type} ${fingerprint(key)}) is marked @revoked in ${this.source}`, 'the server must use another key');
    }
    const listed = this.entries.filter((e) => !e.revoked && e.hosts.some((h) => hostMatches(h, names)));
    if (listed.some((e) => e.key.equals(key))) return;
    if (listed.length > 0) {
      throw new HostKeyError(
        `the host key of ${host}:${port} (${type} ${fingerprint(key)}) does not match the ${listed.length} key(s) listed for it in ${this.source}: possible man-in-the-middle, or the server's key changed`,
        `if the change is expected, check the fingerprint with the server's administrator and replace the line with: ${line}`,
      );
    }
    throw new HostKeyError(
      `the host key of ${host}:${port} (${type} ${fingerprint(key)}) is not in ${this.source}`,
      `check the fingerprint with the server's administrator, then add this line: ${line}`,
    );
  }
}
