/**
 * Request/reply round trip through a real OpenSSH server: POST /orders on the gateway, the order
 * file written over SFTP, the sample batch job answering after its reply delay, the reply file
 * found by the gateway's poll. Target: round trip ≤ reply delay + one poll interval + 50 ms.
 *   npm run bench -- test/bench/sftp-roundtrip.bench.ts
 */
import { startGateway } from '../helpers/gateway.ts';
import { makeProject, startMainframe } from '../sftp/support.ts';

const REPLY_DELAY_MS = 200;
const POLL_MS = 100;
const N = 40;

const mf = await startMainframe('openssh', { replyDelayMs: REPLY_DELAY_MS });
const project = makeProject({ auth: 'key' });
const gw = await startGateway(project.root, { ...mf.env, MAINFRAME_POLL_INTERVAL_MS: String(POLL_MS), MAINFRAME_REPLY_TIMEOUT_MS: '5000' }, { level: 'warn' });
try {
  const times: number[] = [];
  for (let i = 0; i < N + 3; i++) {
    const t0 = performance.now();
    const res = await fetch(`${gw.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `bench-${process.pid}-${i}` },
      body: JSON.stringify({ customerId: 1000 + i, lines: [{ sku: 'HW-1042', quantity: 1 }] }),
    });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`order ${i}: ${res.status}`);
    if (i >= 3) times.push(performance.now() - t0); // the first ones open the connections
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  const budget = REPLY_DELAY_MS + POLL_MS + 50;
  const overhead = times.map((t) => t - REPLY_DELAY_MS);
  console.log(`round trips over OpenSSH (${N}, reply delay ${REPLY_DELAY_MS} ms, poll interval ${POLL_MS} ms):`);
  console.log(
    `  median ${pct(0.5).toFixed(0)} ms, p90 ${pct(0.9).toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms; cost over the reply delay: median ${overhead.sort((a, b) => a - b)[Math.floor(N / 2)].toFixed(0)} ms`,
  );
  console.log(`target: ≤ ${budget} ms (delay + poll + 50 ms): p90 ${pct(0.9) <= budget ? 'MET' : 'NOT MET'}, max ${times[times.length - 1] <= budget ? 'MET' : 'NOT MET'}`);
  console.log(
    `load average: ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await gw.close();
  await mf.stop();
  project.dispose();
}
