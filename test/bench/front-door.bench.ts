/**
 * The front door's costs, measured in process (no HTTP): a bearer JWT verified against a cached JWKS
 * (RS256, jose; with the signature checked, and a token seen before, which the verifier remembers), an API key checked (SHA-256 and a map lookup), a rate-limit check in memory and
 * through Redis (127.0.0.1:6379, rate-limiter-flexible); then two gateway instances on one Redis
 * with a default limit of 100 requests a second, loaded together at about 500 a second for
 * SECONDS (default 10; the issue's figure is 60 s), counting the 200s each second; then five
 * gateway instances on one Redis with `protect: { ratePerSecond: 20 }` on their one (legacy)
 * adapter, loaded together at about OFFERED calls a second (default 100), counting the calls that
 * reach the legacy backend in each clock second (as the backend sees them) and printing the most in
 * any second (the issue's figure: never more than 20).
 *
 *   npm run bench -- test/bench/front-door.bench.ts [seconds, default 10] [offered/s to the five, default 100]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Limiters } from '../../src/limits/limiters.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { hashPassword } from '../../src/security/basic-credentials.ts';
import { ConsumerStore } from '../../src/security/consumer-store.ts';
import { JwtVerifier } from '../../src/security/jwt-verifier.ts';
import { jwtSchemeConfigSchema } from '../../src/security/security-config.ts';
import { openStore } from '../../src/state/sql-store.ts';
import { FIXTURES, startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';
import { AUDIENCE, ISSUER, startIssuer } from '../helpers/jwt-issuer.ts';

const SECONDS = Number(process.argv[2] ?? 10);
const OFFERED = Number(process.argv[3] ?? 100);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

async function timeEach(n: number, fn: (i: number) => unknown): Promise<number[]> {
  for (let i = 0; i < Math.min(1000, n); i++) await fn(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}
function report(name: string, xs: number[]): void {
  console.log(`${name.padEnd(52)} p50 ${us(pct(xs, 0.5)).padStart(9)}  p99 ${us(pct(xs, 0.99)).padStart(9)}  (n=${xs.length})`);
}

const issuer = await startIssuer();
const logger = createLogger({ level: 'silent' });

// 1. JWT verification with the JWKS cached.
// Every call a signature check (verifiedTokens: 0), then one token again and again (remembered).
const checking = new JwtVerifier('bench', jwtSchemeConfigSchema.parse({ jwksUrl: issuer.url, issuer: ISSUER, audience: AUDIENCE, verifiedTokens: 0 }), logger);
const verifier = new JwtVerifier('bench', jwtSchemeConfigSchema.parse({ jwksUrl: issuer.url, issuer: ISSUER, audience: AUDIENCE }), logger);
await checking.start();
await verifier.start();
const token = await issuer.token({ scope: 'a b' });
report('JWT verify (RS256, cached JWKS), signature checked', await timeEach(5000, () => checking.verify(token)));
report('JWT verify, a token seen before (remembered)', await timeEach(20000, () => verifier.verify(token)));
checking.close();
verifier.close();

// 2. API key check (after the first sight, from memory).
const store = await openStore({ driver: 'sqlite', file: ':memory:' });
const consumers = new ConsumerStore(store);
await consumers.start();
await consumers.addConsumer('acme');
const { key } = await consumers.issueKey('acme');
report('API key check', await timeEach(20000, () => consumers.lookup(key)));
consumers.close();
await store.close();

// 3. Rate-limit checks.
const memory = new Limiters({ driver: 'memory' });
report('rate-limit check, memory', await timeEach(20000, (i) => memory.take(`c:${i % 100}`, 1_000_000, 60_000)));
const redis = new Limiters({ driver: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: `ficus-bench-${randomUUID()}` });
if (!(await redis.ready())) throw new Error('Redis at 127.0.0.1:6379 is not reachable');
report('rate-limit check, Redis', await timeEach(5000, (i) => redis.take(`c:${i % 100}`, 1_000_000, 60_000)));
await redis.close();

// 4. Two instances, one Redis, 100/s for one consumer (anonymous here), ~500/s offered.
const upstream = await startHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
const root = `${FIXTURES}secure-gateway`;
const tmp = mkdtempSync(join(tmpdir(), 'ficus-bench-'));
const file = join(tmp, 'ficus.yaml');
const base = readFileSync(join(root, 'ficus.yaml'), 'utf8').replace('level: info', 'level: silent');
writeFileSync(file, `${base}\nlimits:\n  store: { driver: redis, url: redis://127.0.0.1:6379, keyPrefix: ficus-bench-${randomUUID()} }\n  default: { rate: { limit: 100, window: 1s } }\n`);
const env = { UPSTREAM_URL: upstream.url, JWKS_URL: issuer.url, BASIC_CREDENTIALS: `u:${await hashPassword('p')}` };
const a = await startGateway(root, env, { file });
const b = await startGateway(root, env, { file });
const perSecond = new Map<number, number>();
let sent = 0;
const end = Date.now() + SECONDS * 1000;
const workers = Array.from({ length: 50 }, (_, w) =>
  (async () => {
    const target = w % 2 === 0 ? a.url : b.url;
    let next = performance.now();
    while (Date.now() < end) {
      next += 100; // 10/s per worker, 50 workers: ~500/s
      const res = await request(`${target}/public`);
      await res.body.dump();
      sent++;
      if (res.statusCode === 200) {
        const s = Math.floor(Date.now() / 1000);
        perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      }
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })(),
);
await Promise.all(workers);
const full = [...perSecond.entries()]
  .sort(([x], [y]) => x - y)
  .slice(1, -1)
  .map(([, n]) => n); // whole seconds only
console.log(
  `two instances, one Redis, limit 100/s: offered ${(sent / SECONDS).toFixed(0)}/s over ${SECONDS} s; admitted per whole second: min ${Math.min(...full)} max ${Math.max(...full)} mean ${(full.reduce((x, y) => x + y, 0) / full.length).toFixed(1)}`,
);
await a.close();
await b.close();

// 5. Five instances, one Redis, a ceiling of 20 calls a second on the legacy adapter, loaded together.
const CEILING = 20;
const atLegacy = new Map<number, number>();
const legacy = await startHttpServer((_req, res) => {
  const s = Math.floor(Date.now() / 1000);
  atLegacy.set(s, (atLegacy.get(s) ?? 0) + 1);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});
const ceilingFile = join(tmp, 'ficus-ceiling.yaml');
writeFileSync(
  ceilingFile,
  `${base}\nlimits:\n  store: { driver: redis, url: redis://127.0.0.1:6379, keyPrefix: ficus-bench-${randomUUID()} }\n  protect:\n    upstream: { ratePerSecond: ${CEILING} }\n`,
);
const five: StartedGateway[] = [];
for (let i = 0; i < 5; i++) five.push(await startGateway(root, { ...env, UPSTREAM_URL: legacy.url }, { file: ceilingFile }));
const outcomes = new Map<number, number>();
let offered = 0;
const ceilingEnd = Date.now() + SECONDS * 1000;
const WORKERS = 25; // five per instance
const everyMs = (1000 * WORKERS) / OFFERED;
await Promise.all(
  Array.from({ length: WORKERS }, (_, w) =>
    (async () => {
      const target = five[w % five.length].url;
      let next = performance.now() + (w * everyMs) / WORKERS; // spread the workers over one period
      while (Date.now() < ceilingEnd) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += everyMs;
        const res = await request(`${target}/public`);
        await res.body.dump();
        offered++;
        outcomes.set(res.statusCode, (outcomes.get(res.statusCode) ?? 0) + 1);
      }
    })(),
  ),
);
const seconds = [...atLegacy.entries()].sort(([x], [y]) => x - y).map(([, n]) => n);
const over = seconds.filter((n) => n > CEILING).length;
console.log(
  `five instances, one Redis, legacy ceiling ${CEILING}/s: offered ${(offered / SECONDS).toFixed(0)}/s over ${SECONDS} s; at the legacy backend per second: max ${Math.max(...seconds)} ` +
    `(seconds over ${CEILING}: ${over} of ${seconds.length}); answers: ${[...outcomes.entries()]
      .sort(([x], [y]) => x - y)
      .map(([status, n]) => `${status} × ${n}`)
      .join(', ')}`,
);
for (const g of five) await g.close();
await legacy.close();
await upstream.close();
await issuer.close();
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
