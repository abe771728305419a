/**
 * The sample SFTP server's host key: ssh2 makes an unreadable ed25519 key about one time in 256
 * (it strips a leading zero byte), which made the sample estate and the sftp tests fail at random.
 */
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { newHostKey } from '../../sample/mainframe/sftp-server.ts';

const { utils } = ssh2;

type KeyPair = { private: string; public: string };
const readable = (k: KeyPair) => !(utils.parseKey(k.private) instanceof Error) && !(utils.parseKey(k.public) instanceof Error);

/** One of the keys ssh2 makes that it can (or cannot) read back, found by trying (bounded). */
function keyThatIs(wanted: 'readable' | 'unreadable'): KeyPair {
  for (let i = 0; i < 20_000; i++) {
    const k = utils.generateKeyPairSync('ed25519');
    if (readable(k) === (wanted === 'readable')) return k;
  }
  throw new Error(`no ${wanted} key in 20,000 tries`);
}

describe('the sample SFTP server host key', () => {
  it('throws away a key ssh2 cannot read and makes another', () => {
    const bad = keyThatIs('unreadable');
    // A readable one (a key straight from ssh2 is itself unreadable about one time in 256).
    const good = keyThatIs('readable');
    const made = [bad, good];
    const { hostKey, parsedHost } = newHostKey(() => made.shift() ?? utils.generateKeyPairSync('ed25519'));
    expect(hostKey).toBe(good);
    expect(parsedHost.type).toBe('ssh-ed25519');
  });
});
