/**
 * `ficus mock --from recordings/ [--port 8080]`: the project's gateway with its legacy adapters served
 * from recordings (the `recorded` kind), for developing and testing with no legacy system.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseDurationMs } from '../../config/units.ts';
import { startMock } from '../../mock/start-mock.ts';

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) throw new InvalidArgumentError('not a port: use a whole number from 0 to 65535 (0: any free port)');
  return Number(value);
}

function parseRate(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a share of calls from 0 to 1 (0.05 fails one call in twenty)');
  return n;
}

function parseLatency(value: string): { latency: 'recorded' | 'none' | 'fixed'; fixedLatencyMs?: number } {
  if (value === 'recorded' || value === 'none') return { latency: value };
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new InvalidArgumentError('recorded, none, or a fixed duration such as 20ms');
  return { latency: 'fixed', fixedLatencyMs: ms };
}

export function register(program: Command): void {
  program
    .command('mock')
    .description('start the gateway with every legacy adapter served from recordings (no legacy system needed)')
    .option('--from <dir>', 'the recordings (default: the recording folder of ficus.yaml)')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder', '.')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', parsePort, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--all', 'serve modern adapters from the recordings too', false)
    .option('--fallback <how>', 'when no recording matches the request or its path: not-found (404 problem) or recent (the most recent answer of the operation)', 'not-found')
    .option('--latency <how>', 'recorded (as recorded), none, or a fixed duration such as 20ms', parseLatency, { latency: 'none' as const })
    .option('--fault-rate <rate>', 'share of calls answered 503, for testing callers', parseRate, 0)
    .action(async (opts: { from?: string; config: string; root: string; port: number; host: string; all: boolean; fallback: string; latency: ReturnType<typeof parseLatency>; faultRate: number }) => {
      if (opts.fallback !== 'recent' && opts.fallback !== 'not-found') throw new InvalidArgumentError('--fallback must be recent or not-found');
      const mock = await startMock({
        from: opts.from,
        config: opts.config,
        root: opts.root,
        port: opts.port,
        host: opts.host,
        all: opts.all,
        fallback: opts.fallback,
        ...opts.latency,
        faultRate: opts.faultRate,
      });
      process.stdout.write(`${await mock.gateway.banner(mock.url)}\n\n  Served from recordings: ${mock.served.join(', ') || '(no adapter)'}\n\n`);
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        await mock.close(2_000);
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop());
      process.on('SIGINT', () => void stop());
    });
}
