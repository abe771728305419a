/**
 * The browser's CPU priority: the launcher the pool starts the browser through runs it at the
 * configured niceness, with its arguments as given, from a path that may hold any character.
 * (test/screen/screen-pool.test.ts checks every process and thread of a real Chromium.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nicedBrowser } from '../../src/kinds/screen/browser-priority.ts';
import { autogroupOf, autogroupsOn, groupNice } from '../helpers/autogroup.ts';

const dir = mkdtempSync(join(tmpdir(), 'ficus-priority-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `file`, in a session of its own when `detached` (as Playwright starts the browser), and returns what it printed; as user `uid` when given. */
function run(file: string, detached: boolean, uid?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { detached, uid, gid: uid, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}: ${out}`))));
  });
}

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

  // Playwright starts the browser in a session of its own: under autogroup, that session's group shares
  // the CPUs equally with the gateway's whole group unless the group itself is niced.
  it.skipIf(!autogroupsOn)("sets its own session's scheduling group to the niceness asked, and never the gateway's", async () => {
    const program = join(dir, 'group-browser');
    writeFileSync(program, '#!/bin/sh\ncat /proc/$$/autogroup\n', { mode: 0o700 });
    const niced = nicedBrowser(program, 10);
    if (!niced.ok) throw new Error(niced.reason);
    try {
      const ours = autogroupOf('self');
      const alone = await run(niced.executablePath, true);
      expect(alone.split(' ')[0]).not.toBe(ours.split(' ')[0]);
      expect(groupNice(alone)).toBe(10);
      // In the caller's own session, the group is the caller's: left as it was.
      const shared = await run(niced.executablePath, false);
      expect(shared.split(' ')[0]).toBe(ours.split(' ')[0]);
      expect(groupNice(autogroupOf('self'))).toBe(groupNice(ours));
    } finally {
      niced.remove();
    }
  });

  // A gateway that is not root: the kernel takes one group change every 100 ms on the whole machine
  // from a process without CAP_SYS_ADMIN, so a browser launched right after another is refused once.
  it.skipIf(!autogroupsOn || process.getuid?.() !== 0)('sets the group for a user that is not root, even for two browsers launched at once', async () => {
    const open = join(dir, 'for-the-user');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const program = join(open, 'user-browser');
    writeFileSync(program, '#!/bin/sh\ncat /proc/$$/autogroup\n', { mode: 0o755 });
    const niced = nicedBrowser(program, 10);
    if (!niced.ok) throw new Error(niced.reason);
    try {
      // The launcher's folder, readable by the user (the gateway's own user, in service).
      chmodSync(dirname(niced.executablePath), 0o755);
      chmodSync(niced.executablePath, 0o755);
      const nobody = 65534;
      const [first, second] = await Promise.all([run(niced.executablePath, true, nobody), run(niced.executablePath, true, nobody)]);
      expect([groupNice(first), groupNice(second)]).toEqual([10, 10]);
    } finally {
      niced.remove();
    }
  });
});
