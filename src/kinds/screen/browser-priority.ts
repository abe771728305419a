/**
 * The browser at a lower CPU priority than the gateway. Chromium's pages are CPU-hungry: under a
 * flood of screen requests they take every core, and the gateway's event loop (every other route,
 * `/healthz` included) waits for a CPU behind them. Started at a niceness of 10, the browser gets a
 * tenth of the gateway's share of a contended CPU and all of an idle one.
 *
 * Niceness is inherited by every process and thread a process starts, so the browser is started
 * through a small generated executable that runs it under `nice -n N`: its main process, zygotes,
 * renderers and helpers all run at that niceness from their first instruction (renicing after the
 * launch would miss threads, which Linux prioritises one by one). `exec` keeps one pid throughout,
 * so the browser's main process is still the launcher's child. Not on Windows, and not where there
 * is no `nice` executable: then the browser runs at the gateway's priority, and the caller is told why.
 */
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NICE_EXECUTABLES: readonly string[] = ['/usr/bin/nice', '/bin/nice'];

export type NicedBrowser = { ok: true; executablePath: string; remove(): void } | { ok: false; reason: string };

function findNice(): string | undefined {
  for (const path of NICE_EXECUTABLES) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** A POSIX shell word holding `s` as it is. */
const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * An executable that runs `executablePath` with its arguments at niceness `nice` (1–19), in a
 * private folder of the system's temporary directory that `remove` deletes.
 */
export function nicedBrowser(executablePath: string, nice: number): NicedBrowser {
  if (process.platform === 'win32') return { ok: false, reason: 'Windows has no nice' };
  const niceBin = findNice();
  if (niceBin === undefined) return { ok: false, reason: `no nice executable (looked at ${NICE_EXECUTABLES.join(', ')})` };
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'ficus-browser-'));
    const launcher = join(dir, 'browser');
    writeFileSync(launcher, `#!/bin/sh\nexec ${shellQuote(niceBin)} -n ${Math.trunc(nice)} ${shellQuote(executablePath)} "$@"\n`, { mode: 0o700 });
    chmodSync(launcher, 0o700);
    const made = dir;
    return { ok: true, executablePath: launcher, remove: () => rmSync(made, { recursive: true, force: true }) };
  } catch (err) {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    return { ok: false, reason: `cannot write a launcher in ${tmpdir()}: ${(err as Error).message}` };
  }
}
