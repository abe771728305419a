/**
 * `ficus record import` and `ficus record export`: recordings to and from the formats other tools speak.
 *
 *   ficus record import traffic.har              HAR 1.2 (devtools, mitmproxy, Charles, Fiddler, Postman)
 *   ficus record import requests.gor             GoReplay
 *   ficus record import captures/                every .har and .gor below
 *   ficus record export --format har --operation getCustomer --since 1h > out.har
 *
 * Import redacts as recording does and writes into the recording folder of ficus.yaml (or --out);
 * exchanges that match no operation of the contract are counted and listed. Exit codes: 0 done;
 * 2 bad usage or config; 3 done, but some exchanges matched no operation or could not be read.
 */
import type { Command } from 'commander';
import { ConfigErrors } from '../config/config-error.ts';
import { parseDurationMs } from '../config/units.ts';
import { exportRecordings, importRecordings, importSummary } from '../recording/interchange.ts';
import { CliExit, EXIT, runCommand } from './admin-client.ts';

/** Exit code of an import that left some exchanges out (listed). */
const PARTLY_IMPORTED = 3;

/** `--since`: an ISO time, or a duration back from now (`1h`, `7d`). */
export function parseSince(text: string, now = Date.now()): number {
  const ms = parseDurationMs(text);
  if (ms !== undefined) return now - ms;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliExit(EXIT.usage, `--since takes a time (2026-11-25T10:00:00Z) or a duration back from now (30m, 1h, 7d), not "${text}"`);
  return t;
}

async function configured<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigErrors) throw new CliExit(EXIT.usage, err.message);
    throw err;
  }
}

export function registerInterchange(record: Command): void {
  record
    .command('import')
    .argument('<paths...>', '.har or .gor files, or folders holding them')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder', '.')
    .option('--out <dir>', 'write the recording here instead of the recording folder of ficus.yaml')
    .description('import HAR or GoReplay traffic as a recording (redacted as recording does)')
    .action(
      runCommand('record import', async (paths: string[], opts: { config: string; root: string; out?: string }) => {
        const report = await configured(() => importRecordings({ paths, root: opts.root, config: opts.config, out: opts.out }));
        process.stdout.write(importSummary(report) + '\n');
        if (report.imported === 0 && report.files.length === 0) throw new CliExit(EXIT.usage, 'no .har or .gor file found in the given paths');
        if (report.unmatched.length > 0 || report.bad.length > 0)
          throw new CliExit(PARTLY_IMPORTED, `${report.unmatched.length} exchanges matched no operation and ${report.bad.length} could not be read (listed above); the rest were imported`);
      }),
    );

  record
    .command('export')
    .argument('[recordings...]', 'recording files or folders (default: the recording folder of ficus.yaml)')
    .option('--format <format>', 'har or jsonl', 'har')
    .option('--operation <operationId>', 'only this operation (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--since <time>', 'only exchanges recorded since this time or this long ago (1h, 7d)')
    .option('--base-url <url>', 'scheme and host of the URLs in a HAR', 'http://localhost')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder', '.')
    .description('write recorded exchanges as HAR 1.2 or JSON Lines to stdout')
    .action(
      runCommand('record export', async (paths: string[], opts: { format: string; operation: string[]; since?: string; baseUrl: string; config: string; root: string }) => {
        if (opts.format !== 'har' && opts.format !== 'jsonl') throw new CliExit(EXIT.usage, `--format must be har or jsonl, not "${opts.format}"`);
        const since = opts.since === undefined ? undefined : parseSince(opts.since);
        const r = await configured(() =>
          exportRecordings({ format: opts.format as 'har' | 'jsonl', paths, root: opts.root, config: opts.config, operations: opts.operation, since, baseUrl: opts.baseUrl }),
        );
        process.stdout.write(r.text);
        process.stderr.write(`exported ${r.count} exchanges\n`);
        for (const b of r.bad) process.stderr.write(`  skipped ${b.file}:${b.line}: ${b.reason}\n`);
      }),
    );
}
