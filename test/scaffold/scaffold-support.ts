/** Running `ficus` commands in this process (as bin/ficus.js does), and a fresh `ficus init` project per test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `ficus <args>` in this process, with its exit code and output. */
export async function ficus(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    await main(['node', 'ficus', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = undefined;
  }
}

/** A temporary folder, removed by `remove()`. */
export function tempDir(prefix = 'h21db-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new project made by `ficus init` in a temporary folder. */
export async function initProjectDir(): Promise<{ root: string; remove(): void }> {
  const t = tempDir();
  const root = join(t.dir, 'project');
  const r = await ficus(['init', root]);
  if (r.code !== 0) throw new Error(`ficus init failed: ${r.stderr}`);
  return { root, remove: t.remove };
}
