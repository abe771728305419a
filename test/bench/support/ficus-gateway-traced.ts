// Ficus as in ./ficus-gateway.ts, with tracing set by its arguments: <service url> <ratio|off> [<OTLP endpoint>].
// Spans go over OTLP/HTTP protobuf to the endpoint (the bench's own sink), sampled at <ratio>.
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../../src/gateway.ts';
import { announce } from './ready.ts';

const [service, ratio, endpoint] = process.argv.slice(2);
const root = fileURLToPath(new URL('../../fixtures/bench-gateway/', import.meta.url));
const tracing =
  ratio === 'off' ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio };
const gateway = await Gateway.create({ root, env: { ...process.env, CUSTOMERS_SERVICE_URL: service, ...tracing } });
announce(await gateway.listen(0, '127.0.0.1'));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void gateway.close(500).then(() => process.exit(0)));
