/**
 * Issue 18: the CPU tracing adds to one request, measured in process (CPU time, steadier than
 * throughput on a busy machine): what the tracing feature and a binding call do per request — the
 * caller's context extracted, the SERVER span, its traceparent for the outbox, one CLIENT span per
 * attempt with its attributes, the context injected into the backend's headers, both spans ended — at
 * 0% and at 100% sampling, the 100% case exporting over OTLP/HTTP protobuf to a sink in this process
 * (so the export's CPU is counted too). Compare with the gateway's whole CPU per request (issue 2's
 * section: about 300 µs on a quiet machine).
 *
 *   npm run bench -- test/bench/tracing-cpu.bench.ts      (BENCH_REQUESTS=20000 BENCH_ROUNDS=5)
 */
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { annotateAttempt, injectTraceContext, setActiveTracer } from '../../src/observability/tracing/current.ts';
import { GatewayTracer } from '../../src/observability/tracing/tracer.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const loadBefore = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');

let spansBytes = 0;
const sink = createServer((req, res) => {
  req.on('data', (c: Buffer) => (spansBytes += c.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(sink.address() as { port: number }).port}/v1/traces`;

const tracerAt = (ratio: number) => new GatewayTracer({ serviceName: 'bench', url, protocol: 'http/protobuf', sampler: 'parentbased_traceidratio', ratio, headers: {}, exportTimeoutMs: 10_000 });
const binding = { adapter: 'customers-service', kind: 'http', backend: 'modern' as const, operationId: 'getCustomer', policy: { circuitState: 'closed' } };
const headersIn = { accept: 'application/json', host: 'localhost' };

async function oneRequest(tracer: GatewayTracer | undefined): Promise<void> {
  const req = {
    operationId: 'getCustomer',
    method: 'GET',
    pathParams: { customerId: 1042 },
    query: {},
    headers: headersIn,
    body: undefined,
    requestId: 'r',
    signal: new AbortController().signal,
  } as OperationRequest;
  if (!tracer) {
    const out: Record<string, string> = { 'x-request-id': 'r' };
    injectTraceContext(req, out);
    return;
  }
  const { span, ctx } = tracer.startServer(
    'getCustomer',
    { 'http.request.method': 'GET', 'http.route': '/customers/{customerId}', 'ficus.operation': 'getCustomer', 'ficus.request_id': 'r', 'ficus.mode': 'modern' },
    tracer.extract(req.headers),
  );
  req.trace = ctx;
  if (span.isRecording()) req.traceparent = tracer.traceparentOf(ctx);
  await tracer.traceCall(binding, req, (wrap) =>
    wrap(async (trace) => {
      const attemptReq = { ...req, trace };
      const out: Record<string, string> = { 'x-request-id': 'r' };
      injectTraceContext(attemptReq, out);
      annotateAttempt(attemptReq, () => ({ 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:1/customers/1042', 'server.address': '127.0.0.1' }));
      annotateAttempt(attemptReq, () => ({ 'http.response.status_code': 200 }));
    }),
  );
  span.setAttribute('http.response.status_code', 200);
  span.setAttributes({ 'ficus.backend': 'modern', 'ficus.adapter': 'customers-service' });
  span.end();
}

async function measure(tracer: GatewayTracer | undefined): Promise<number> {
  setActiveTracer(tracer);
  const before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await oneRequest(tracer);
  if (tracer) await tracer.provider.forceFlush();
  const used = process.cpuUsage(before);
  setActiveTracer(undefined);
  return (used.user + used.system) / REQUESTS;
}

const targets = [
  { name: 'tracing off', tracer: undefined as GatewayTracer | undefined, rounds: [] as number[] },
  { name: 'tracing on, 0% sampled', tracer: tracerAt(0), rounds: [] as number[] },
  { name: 'tracing on, 100% sampled (exported)', tracer: tracerAt(1), rounds: [] as number[] },
];
for (const t of targets) await measure(t.tracer); // warm-up
for (let round = 0; round < ROUNDS; round++) for (const t of targets) t.rounds.push(await measure(t.tracer));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\n${REQUESTS} requests a round, median of ${ROUNDS} rounds taken in turns (node ${process.version}, load average before: ${loadBefore})\n`);
console.log('| target | CPU µs per request (median) | rounds |');
console.log('|---|---:|---|');
for (const t of targets) console.log(`| ${t.name} | ${median(t.rounds).toFixed(1)} | ${t.rounds.map((r) => r.toFixed(1)).join(', ')} |`);
const off = median(targets[0].rounds);
const zero = median(targets[1].rounds) - off;
const full = median(targets[2].rounds) - off;
console.log(`\nadded by tracing per request: ${zero.toFixed(1)} µs at 0%, ${full.toFixed(1)} µs at 100% (${(spansBytes / 1e6).toFixed(1)} MB of spans exported)`);
for (const base of [303]) {
  console.log(
    `with the gateway at ${base} µs a request: throughput kept ≈ ${((base / (base + zero)) * 100).toFixed(1)}% at 0% (target ≥ 98%), ≈ ${((base / (base + full)) * 100).toFixed(1)}% at 100% (target ≥ 85%)`,
  );
}
for (const t of targets) await t.tracer?.shutdown();
sink.close();
sink.closeAllConnections();
