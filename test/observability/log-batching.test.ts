/**
 * The gateway's log lines are written in batches (src/observability/logger.ts): a line still reaches
 * stdout soon after it was logged, with no more lines after it to fill a batch, and nothing logged
 * is lost when the process exits right after logging.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOGGER = fileURLToPath(new URL('../../src/observability/logger.ts', import.meta.url));

// Logs one line, says so on stderr, waits for "exit" on stdin, then logs a second line and exits at once.
const SCRIPT = `
const { createLogger } = await import(${JSON.stringify(LOGGER)});
const logger = createLogger({ level: 'info' });
logger.info({ n: 1 }, 'first');
process.stderr.write('LOGGED\\n');
process.stdin.setEncoding('utf8').on('data', (c) => {
  if (c.includes('exit')) {
    logger.info({ n: 2 }, 'last');
    process.exit(0);
  }
});
`;

describe('log lines written in batches', () => {
  it('a lone line reaches stdout without more lines to fill a batch, and the last line before exit is not lost', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // The first line arrives on its own (the periodic flush), while the process keeps running.
      await expect.poll(() => out, { timeout: 20_000, interval: 20 }).toContain('"msg":"first"');
      expect(err).toContain('LOGGED');
      expect(child.exitCode).toBeNull();
      child.stdin.write('exit\n');
      expect(await exited).toBe(0);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; n: number });
      expect(lines.map((l) => [l.msg, l.n])).toEqual([
        ['first', 1],
        ['last', 2],
      ]);
    } finally {
      child.kill();
    }
  });
});
