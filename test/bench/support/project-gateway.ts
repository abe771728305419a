// A gateway on a project folder, in its own process as in production:
// `project-gateway.ts <root> '<env as JSON>' [config file] [admin]`; with `admin`, its admin server too, announced (`ADMIN <url>`) before the gateway.
import { Gateway } from '../../../src/gateway.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { announce } from './ready.ts';

const [root, envJson = '{}', file, admin] = process.argv.slice(2);
const gateway = await Gateway.create({ root, file: file || undefined, env: { ...process.env, ...(JSON.parse(envJson) as Record<string, string>) }, logger: createLogger({ level: 'silent' }) });
if (admin === 'admin') process.stderr.write(`ADMIN ${await gateway.control.listen(0, '127.0.0.1')}\n`);
announce(await gateway.listen(0, '127.0.0.1'));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void gateway.close(500).then(() => process.exit(0));
  });
}
