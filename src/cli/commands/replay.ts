/**
 * `ficus replay [recordings…] --against legacy|modern|<base URL>`: sends recorded requests again and
 * compares each answer with the recorded one (the comparator of shadow mode, the routes' ignore rules,
 * and with --baseline the noise found by replaying to the recorded backend twice first).
 *
 * `legacy` and `modern` start the project's gateway in this process and send every call to that
 * backend; a URL sends them there (a running gateway, or a service that speaks the contract).
 * Exit codes: 0 everything matched; 1 something differed or got no answer; 2 bad usage or config;
 * 3 everything matched but some recording lines could not be replayed.
 */
import type { Command } from 'commander';
import { ConfigErrors } from '../../config/config-error.ts';
import { createLogger } from '../../observability/logger.ts';
import { progressBar } from '../../replay/console-report.ts';
import { runReplay } from '../../replay/run-replay.ts';

interface ReplayFlags {
  against: string;
  config?: string;
  root: string;
  sampleEstate: boolean;
  concurrency: string;
  rate?: string;
  unsafe: boolean;
  baseline: boolean;
  ignore: string[];
  junit?: string;
  html?: string;
  progress: boolean;
}

function positiveNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} must be a number above 0, not "${text}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('replay')
    .argument('[recordings...]', 'recording files or folders (default: the recording folder of ficus.yaml, recordings/)')
    .description('replay recorded exchanges against legacy, modern or a URL and report every difference')
    .option('--against <target>', 'legacy, modern, or a base URL such as http://127.0.0.1:8080', 'modern')
    .option('-c, --config <file>', 'gateway config file')
    .option('-r, --root <dir>', 'project folder', '.')
    .option('--sample-estate', 'start the bundled sample estate for the gateway started here', false)
    .option('--concurrency <n>', 'requests in flight at once', '8')
    .option('--rate <n>', 'at most this many requests a second')
    .option('--unsafe', 'also replay unsafe methods (POST, PUT, …): only against a system where writing is harmless', false)
    .option('--baseline', 'replay to the recorded backend twice first and ignore what differs between those runs (noise)', false)
    .option('--ignore <path>', 'a JSON path never compared, e.g. $.items[*].updatedAt (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--junit <file>', 'write a JUnit XML report here')
    .option('--html <file>', 'write a self-contained HTML report here')
    .option('--no-progress', 'no progress bar')
    .action(async (paths: string[], opts: ReplayFlags) => {
      let estate: { stop(): Promise<void> } | undefined;
      const env: Record<string, string | undefined> = { ...process.env };
      try {
        const concurrency = positiveNumber(opts.concurrency, '--concurrency') ?? 8;
        const ratePerSecond = positiveNumber(opts.rate, '--rate');
        if (opts.sampleEstate) {
          const { startSampleEstate } = await import('../../../sample/estate.ts');
          const running = await startSampleEstate({ root: opts.root });
          estate = running;
          for (const [k, v] of Object.entries(running.env)) if (env[k] === undefined) env[k] = v;
        }
        const result = await runReplay({
          paths,
          against: opts.against,
          root: opts.root,
          config: opts.config,
          env,
          concurrency: Math.floor(concurrency),
          ratePerSecond,
          unsafe: opts.unsafe,
          baseline: opts.baseline,
          ignore: opts.ignore,
          junit: opts.junit,
          html: opts.html,
          progress: opts.progress ? progressBar() : undefined,
          logger: createLogger({ level: 'warn', destination: process.stderr }),
        });
        process.stdout.write(result.summary + '\n');
        if (opts.junit) process.stdout.write(`JUnit report: ${opts.junit}\n`);
        if (opts.html) process.stdout.write(`HTML report: ${opts.html}\n`);
        process.exitCode = result.exitCode;
      } catch (err) {
        process.stderr.write(err instanceof ConfigErrors ? `${err.message}\n` : `ficus replay: ${(err as Error).message}\n`);
        process.exitCode = 2;
      } finally {
        await estate?.stop();
      }
    });
}
