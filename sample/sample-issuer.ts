/**
 * The sample estate's token issuer: an RSA key made at start, its JWKS served on loopback (the
 * gateway's `security.schemes.bearer.jwksUrl` points here through FICUS_JWKS_URL), and a token for
 * the sample partner with the `billing:write` scope, for the README's curl examples.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const SAMPLE_ISSUER = 'https://issuer.sample.ficus.dev';
export const SAMPLE_AUDIENCE = 'ficus-sample-api';

export async function startSampleIssuer(): Promise<{ jwksUrl: string; token: string; stop(): Promise<void> }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'sample-1', alg: 'RS256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  const server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const token = await new SignJWT({ scope: 'billing:write' })
    .setProtectedHeader({ alg: 'RS256', kid: 'sample-1' })
    .setSubject('sample-partner')
    .setIssuer(SAMPLE_ISSUER)
    .setAudience(SAMPLE_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('12h')
    .sign(privateKey);
  return {
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    token,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
