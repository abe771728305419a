/**
 * `ficus start --workers N` as an operator runs it (bin/ficus.js), on a copy of the bench gateway
 * (test/fixtures/bench-gateway) whose state store is a file (the workers share it); resolves once
 * every worker serves (the primary's "N workers serving" line; the banner alone with one worker).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopProcess, type Child } from './load.ts';

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));

/** `checkout`: the Ficus checkout to run (another one, with its node_modules, for a before/after in one run). */
export function startFicusWorkers(upstream: string, workers: number, env: Record<string, string> = {}, checkout = CHECKOUT): Promise<Child> {
  const BIN = join(checkout, 'bin/ficus.js');
  const FIXTURE = join(checkout, 'test/fixtures/bench-gateway/');
  const dir = mkdtempSync(join(tmpdir(), 'ficus-workers-bench-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const config = join(dir, 'ficus.yaml');
  // A state file the workers share; no admin server (its default port would be taken by the next target).
  writeFileSync(config, readFileSync(config, 'utf8').replace("file: ':memory:'", 'file: var/state.db') + 'admin:\n  enabled: false\n');
  const proc = spawn(process.execPath, [BIN, 'start', '--root', dir, '--port', '0', '--workers', String(workers)], {
    env: { ...process.env, CUSTOMERS_SERVICE_URL: upstream, BENCH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const startMs = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
    const timer = setTimeout(() => reject(new Error(`ficus start --workers ${workers} did not serve within ${startMs} ms: ${out} ${err}`)), startMs);
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url && (workers === 1 || /workers serving/.test(out))) {
        clearTimeout(timer);
        out = '';
        resolve({
          url,
          proc,
          stop: async () => {
            await stopProcess(proc);
            rmSync(dir, { recursive: true, force: true });
          },
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ficus start --workers ${workers} exited with ${code}: ${err}`));
    });
  });
}
