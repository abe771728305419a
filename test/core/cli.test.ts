import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, PROJECT_ROOT } from '../helpers/gateway.ts';
import { main } from '../../src/cli/main.ts';

const FICUS = join(PROJECT_ROOT, 'bin/ficus.js');

/** `ficus <args>` run in this process (the program bin/ficus.js runs), with its exit code and stderr. */
async function ficusInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    await main(['node', 'ficus', ...args]);
    return { code: Number(process.exitCode ?? 0), stderr };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = undefined;
  }
}

describe('the ficus command', () => {
  it('lists its commands in --help', () => {
    const r = spawnSync(process.execPath, [FICUS, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('start');
    expect(r.stdout).toMatch(/Usage: ficus/);
  });

  it('refuses to start on a broken config with exit code 78 and a message naming file, key and fix', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ficus-cli-'));
    try {
      cpSync(join(FIXTURES, 'http-gateway'), root, { recursive: true });
      writeFileSync(join(root, 'ficus.yaml'), 'server:\n  prot: 8080\n');
      // In this process (as bin/ficus.js runs it; the test above runs the program itself): a child
      // process would only add a cold start of the TypeScript loader, seconds on a loaded machine.
      const r = await ficusInProcess(['start', '--root', root]);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/ficus.yaml:\d+: server.prot: unknown key "prot"/);
      expect(r.stderr).toContain('fix:');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('exits 2 on bad usage, in every command, as the README documents (0 for --help and --version)', async () => {
    const usage: [string[], RegExp][] = [
      [['nosuch'], /unknown command 'nosuch'/],
      [[], /Usage: ficus/],
      [['routes'], /Usage: ficus routes/],
      [['routes', 'list', '--bogus'], /unknown option '--bogus'/],
      [['routes', 'show'], /missing required argument 'operationId'/],
      [['routes', 'set', 'getCustomer', '--mode', 'sideways', '--reason', 'r'], /Allowed choices are legacy/],
      [['routes', 'set', 'getCustomer', '--mode', 'modern'], /required option '--reason <text>' not specified/],
      [['dlq', 'show'], /missing required argument 'id'/],
      [['record', 'start'], /missing required argument 'operationId'/],
      [['record', 'capture'], /missing required argument 'traffic-file'/],
      [['replay', '--bogus'], /unknown option '--bogus'/],
      [['layout', 'decode', 'FILE.DAT'], /required option '-l, --layout <file>' not specified/],
      [['layout', 'encode', '-l', 'x.yaml', 'rows.jsonl'], /required option '-o, --output <file>' not specified/],
      [['start', '--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, message] of usage) {
      const r = await ficusInProcess(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
    }
    expect((await ficusInProcess(['--help'])).code).toBe(0);
    expect((await ficusInProcess(['routes', '--help'])).code).toBe(0);
    expect((await ficusInProcess(['--version'])).code).toBe(0);
  });
});
