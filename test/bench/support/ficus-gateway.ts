// Ficus with everything on: request and response validation, metrics, JSON logs (to stdout), policies.
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../../src/gateway.ts';
import { announce } from './ready.ts';

const root = fileURLToPath(new URL('../../fixtures/bench-gateway/', import.meta.url));
const gateway = await Gateway.create({ root, env: { ...process.env, CUSTOMERS_SERVICE_URL: process.argv[2] } });
announce(await gateway.listen(0, '127.0.0.1'));
process.on('SIGTERM', () => {
  void gateway.close(500).then(() => process.exit(0));
});
process.on('SIGINT', () => {
  void gateway.close(500).then(() => process.exit(0));
});
