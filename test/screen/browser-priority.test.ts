/**
 * The browser's CPU priority: the launcher the pool starts the browser through runs it at the
 * configured niceness, with its arguments as given, from a path that may hold any character.
 * (test/screen/screen-pool.test.ts checks every process and thread of a real Chromium.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nicedBrowser } from '../../src/kinds/screen/browser-priority.ts';

const dir = mkdtempSync(join(tmpdir(), 'ficus-priority-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The niceness field of /proc/<pid>/stat as the program printed it. */
const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

describe.skipIf(process.platform === 'win32')('the browser launcher', () => {
  it('runs the program at the niceness asked, below the gateway, with its arguments unchanged, from a path with spaces and quotes', () => {
    const folder = join(dir, "a folder with 'quotes' and $HOME");
    mkdirSync(folder);
    const program = join(folder, 'browser');
    writeFileSync(program, '#!/bin/sh\ncat /proc/$$/stat\nfor a in "$@"; do echo "arg:$a"; done\ngrep CapBnd /proc/$$/status\n', { mode: 0o700 });
    const niced = nicedBrowser(program, 10);
    if (!niced.ok) throw new Error(niced.reason);
    try {
      const out = execFileSync(niced.executablePath, ['--headless', "it's $PATH", 'two words'], { encoding: 'utf8' }).split('\n');
      expect(niceOf(out[0])).toBe(Math.min(19, getPriority() + 10));
      expect(out.slice(1, 4)).toEqual(['arg:--headless', "arg:it's $PATH", 'arg:two words']);
      // As root, it may not raise its threads' priority back (as Chromium does): CAP_SYS_NICE (bit 23) is gone.
      const bounding = BigInt(`0x${out[4].split(/\s+/)[1]}`);
      if (process.getuid?.() === 0) expect(bounding & (1n << 23n)).toBe(0n);
    } finally {
      niced.remove();
    }
    expect(existsSync(niced.executablePath)).toBe(false);
  });
});
