/**
 * getAccount served by the detail-screen flow: p50/p95 through the gateway's warm browser pool,
 * versus launching a browser per request (same flow, same kind code, a saved session so that it
 * does not pay the sign-on), versus fetching the same legacy page with a plain HTTP GET (the
 * floor). Target: warm pool at least 5x faster than launch-per-request at p50.
 *
 *   npm run bench -- test/bench/screen-latency.bench.ts
 *   BENCH_WARM=100 BENCH_LAUNCH=20 BENCH_HTTP=200 BENCH_DELAY_MS=0 (legacy page delay)
 *   BILLING_UI_BROWSER_SERVER=process (default: Playwright's server in a child process) | inline (in the gateway's)
 *
 * Also prints this process's CPU per warm flow: the gateway and the legacy app both run in it.
 */
import { fileURLToPath } from 'node:url';
import { BrowserPool, type BrowserServerMode } from '../../src/kinds/screen/browser-pool.ts';
import { browserArgs, findBrowser } from '../../src/kinds/screen/browser-discovery.ts';
import { loadModule, type AnyFlow } from '../../src/kinds/screen/flow.ts';
import { Screen } from '../../src/kinds/screen/screen.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { SAMPLE_PASSWORD, SAMPLE_USER } from '../../sample/legacy-billing/server.ts';
import { screenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';

const WARM = Number(process.env.BENCH_WARM ?? 100);
const LAUNCH = Number(process.env.BENCH_LAUNCH ?? 20);
const HTTP = Number(process.env.BENCH_HTTP ?? 200);
const DELAY = Number(process.env.BENCH_DELAY_MS ?? 0);
const ADAPTER = fileURLToPath(new URL('../../adapters/billing-ui/', import.meta.url));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  (n=${xs.length})`;
const ids = (i: number) => `A${String(1 + (i % 200)).padStart(6, '0')}`;

const SERVER: BrowserServerMode = process.env.BILLING_UI_BROWSER_SERVER === 'inline' ? 'inline' : 'process';
const estate = await screenEstate({ delayMs: DELAY }, { BILLING_UI_PAGES: '4', BILLING_UI_RETRIES: '0', BILLING_UI_BROWSER_SERVER: SERVER });
const browser = findBrowser(undefined);
if (!browser.ok) throw new Error(browser.reason);
const quiet = createLogger({ level: 'silent' });

// 1. The floor: the same legacy page with a plain HTTP GET (signed on once, cookie kept).
const login = await fetch(`${estate.legacy.url}/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ userid: SAMPLE_USER, password: SAMPLE_PASSWORD }),
  redirect: 'manual',
});
const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
const http: number[] = [];
for (let i = 0; i < HTTP + 10; i++) {
  const t = performance.now();
  const r = await fetch(`${estate.legacy.url}/account?no=${ids(i)}`, { headers: { cookie } });
  const html = await r.text();
  if (!html.includes('Account holder')) throw new Error('plain GET did not get the detail page');
  if (i >= 10) http.push(performance.now() - t);
}

// 2. The warm pool, through the gateway (HTTP in, contract checks, policy, flow, mapping).
const gw = await startGateway(estate.dir, estate.env, { level: 'silent' });
const warm: number[] = [];
let cpuFrom = process.cpuUsage();
for (let i = 0; i < WARM + 10; i++) {
  if (i === 10) cpuFrom = process.cpuUsage();
  const t = performance.now();
  const r = await fetch(`${gw.url}/accounts/${ids(i)}`);
  await r.json();
  if (r.status !== 200) throw new Error(`warm pool answered ${r.status}`);
  if (i >= 10) warm.push(performance.now() - t);
}
const cpu = process.cpuUsage(cpuFrom);
await gw.close();

// 3. Launch per request: a new browser for each call, the same flow, then the browser closed.
const flow = (await loadModule(ADAPTER, 'flows/get-account.ts', 'flow')) as AnyFlow;
const [name, value] = cookie.split('=');
const state = { cookies: [{ name, value, domain: '127.0.0.1', path: '/', expires: -1, httpOnly: true, secure: false, sameSite: 'Lax' as const }], origins: [] };
const launch: number[] = [];
for (let i = 0; i < LAUNCH + 2; i++) {
  const t = performance.now();
  const pool = new BrowserPool({
    executablePath: browser.path,
    args: browserArgs([]),
    browserServer: SERVER,
    size: 1,
    queueLimit: 0,
    maxUsesPerPage: 1,
    maxFlowsPerBrowser: 0,
    launchTimeoutMs: 30_000,
    actionTimeoutMs: 10_000,
    navigationTimeoutMs: 10_000,
    probeTimeoutMs: 3_000,
    probeIntervalMs: 0,
    trace: false,
    logger: quiet,
    session: () => ({ state, version: 1 }),
  });
  const out = (await pool.use(AbortSignal.timeout(30_000), (slot) => flow.run(new Screen(slot.page, { baseUrl: estate.legacy.url, signal: AbortSignal.timeout(30_000) }), { accountId: ids(i) }))) as {
    accountNo: string;
  };
  await pool.close();
  if (out.accountNo !== ids(i)) throw new Error('launch-per-request read the wrong account');
  if (i >= 2) launch.push(performance.now() - t);
}
await estate.stop();

console.log(`screen kind, getAccount via the detail-screen flow (legacy page delay ${DELAY} ms, ${browser.path}, browserServer ${SERVER})`);
console.log(`  plain HTTP GET of the legacy page (floor)  ${fmt(http)}`);
console.log(`  warm pool, through the gateway             ${fmt(warm)}`);
console.log(`    CPU of this process per warm flow (gateway + legacy app)  ${((cpu.user + cpu.system) / 1000 / WARM).toFixed(1)} ms`);
console.log(`  launch a browser per request               ${fmt(launch)}`);
const ratio = pct(launch, 50) / pct(warm, 50);
console.log(`  warm pool is ${ratio.toFixed(1)}x faster than launch-per-request at p50 (target >= 5x): ${ratio >= 5 ? 'met' : 'NOT met'}`);
