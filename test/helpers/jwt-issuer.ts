/** A token issuer for tests: RSA keys, a JWKS server on loopback (that can be made to fail), and signed tokens. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'ficus-tests';

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export interface TestIssuer {
  url: string;
  /** JWKS fetches answered (in any mode). */
  fetches: number;
  /** ok: the JWKS; down: 503; garbage: not JSON. */
  mode: 'ok' | 'down' | 'garbage';
  /** The key tokens are signed with (published in the JWKS). */
  current: KeyPair;
  /** A token signed with the current key: a valid one unless `claims`/`opts` say otherwise. */
  token(claims?: JWTPayload, opts?: { key?: KeyPair; expiresIn?: string | number; notBefore?: string | number; audience?: string; issuer?: string }): Promise<string>;
  /** A new key, published from now on (the old one stays published unless `drop`). */
  rotate(drop?: boolean): Promise<KeyPair>;
  /** A key that is never published. */
  stranger(): Promise<KeyPair>;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<TestIssuer> {
  let published = [await keyPair('k1')];
  let n = 1;
  const server: Server = createServer((req, res) => {
    issuer.fetches++;
    if (issuer.mode === 'down') {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(issuer.mode === 'garbage' ? '<html>not a jwks' : JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer: TestIssuer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    fetches: 0,
    mode: 'ok',
    current: published[0],
    async token(claims = {}, opts = {}) {
      const key = opts.key ?? issuer.current;
      let jwt = new SignJWT({ sub: 'token-user', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid })
        .setIssuer(opts.issuer ?? ISSUER)
        .setAudience(opts.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m');
      if (opts.notBefore !== undefined) jwt = jwt.setNotBefore(opts.notBefore);
      return jwt.sign(key.privateKey);
    },
    async rotate(drop = false) {
      const k = await keyPair(`k${++n}`);
      published = drop ? [k] : [...published, k];
      issuer.current = k;
      return k;
    },
    async stranger() {
      return keyPair(`k${++n}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}
