/**
 * `ficus reconcile <getOperation> [--keys-from <listOperation>] --against modern`: reads every key
 * through legacy and modern, compares each pair with the shadow comparator (the route's ignore
 * rules), at a bounded rate, and reports parity: equal, different, missing on either side, with the
 * differences. Exit codes: 0 parity; 1 some key differs or is missing on one side; 2 bad usage or
 * config; 3 no drift found but some keys could not be compared.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigErrors } from '../../config/config-error.ts';
import { createLogger } from '../../observability/logger.ts';
import { runReconcile } from '../../reconcile/run-reconcile.ts';

interface Flags {
  keysFrom?: string;
  keys?: string;
  keyField?: string;
  against: string;
  config?: string;
  root: string;
  sampleEstate: boolean;
  sample: boolean;
  rate: string;
  concurrency: string;
  ignore: string[];
  html?: string;
  junit?: string;
  json?: string;
  record: boolean;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} must be a number above 0, not "${text}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('reconcile')
    .argument('<getOperation>', 'the operation that reads one resource by its key, e.g. getCustomer')
    .description('compare every key of a resource between legacy and modern and report parity')
    .option('--keys-from <listOperation>', 'the list operation whose items give the keys (walked on both sides), e.g. listCustomers')
    .option('--keys <k1,k2,...>', 'the keys to compare, comma-separated')
    .option('--key-field <field>', "the items' field holding the key", 'id')
    .option('--against <backend>', 'modern (legacy is the reference)', 'modern')
    .option('-c, --config <file>', 'gateway config file')
    .option('-r, --root <dir>', 'project folder', '.')
    .option('--sample-estate', 'start the bundled sample estate first', false)
    .option('--sample', 'reconcile the running sample (npm start): its legacy CRM and its modern customers service', false)
    .option('--rate <n>', 'at most this many keys a second (each key is one call to each side)', '500')
    .option('--concurrency <n>', 'keys compared at once', '16')
    .option('--ignore <path>', 'a JSON path never compared (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--html <file>', 'write an HTML report here')
    .option('--junit <file>', 'write a JUnit XML report here')
    .option('--json <file>', 'write the report as JSON here')
    .option('--no-record', "don't keep the run's summary in the state store (the dashboard and the promotion gates read it)")
    .action(async (operation: string, f: Flags) => {
      let estate: { stop(): Promise<void> } | undefined;
      const env: Record<string, string | undefined> = { ...process.env };
      try {
        if (f.sample) {
          const { findRunningEstate } = await import('../../../sample/estate.ts');
          const run = findRunningEstate(resolve(f.root));
          if (!run) throw new Error('no running sample estate: start it with npm start (or use --sample-estate to start one for this run)');
          for (const [k, v] of Object.entries(run.estate.env)) if (env[k] === undefined) env[k] = v;
        }
        if (f.sampleEstate) {
          const { startSampleEstate } = await import('../../../sample/estate.ts');
          const running = await startSampleEstate({ root: f.root });
          estate = running;
          for (const [k, v] of Object.entries(running.env)) if (env[k] === undefined) env[k] = v;
        }
        const r = await runReconcile({
          operation,
          keysFrom: f.keysFrom,
          keys: f.keys
            ? f.keys
                .split(',')
                .map((k) => k.trim())
                .filter((k) => k !== '')
            : undefined,
          keyField: f.keyField,
          against: f.against,
          root: f.root,
          config: f.config,
          env,
          ratePerSecond: positive(f.rate, '--rate'),
          concurrency: Math.floor(positive(f.concurrency, '--concurrency')),
          ignore: f.ignore,
          html: f.html,
          junit: f.junit,
          json: f.json,
          record: f.record,
          logger: createLogger({ level: 'warn', destination: process.stderr }),
        });
        process.stdout.write(r.summary + '\n');
        process.exitCode = r.exitCode;
      } catch (err) {
        if (err instanceof ConfigErrors) throw err;
        process.stderr.write(`ficus reconcile: ${(err as Error).message}\n`);
        process.exitCode = 2;
      } finally {
        await estate?.stop();
      }
    });
}
