/**
 * `npm start` (the README's first command) stopped through npm: the gateway must not be left
 * running, orphaned. SIGTERM to npm reaches the gateway, which shuts down; npm killed outright is
 * noticed by the gateway, which shuts down too. The project's own config and sample estate, on free
 * loopback ports, with state and files under a folder of this test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { PROJECT_ROOT, SAMPLE_SECURITY } from '../helpers/gateway.ts';

let dir: string;
let config: string;
const gateways: number[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ficus-npm-start-'));
  config = join(dir, 'ficus.yaml');
  writeFileSync(
    config,
    stringify({
      contract: join(PROJECT_ROOT, 'openapi.yaml'),
      adaptersDir: join(PROJECT_ROOT, 'adapters'),
      server: { port: 0, host: '127.0.0.1' },
      log: { level: 'warn' },
      state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
      admin: { port: 0, host: '127.0.0.1' },
      recording: { dir: join(dir, 'recordings') },
      security: SAMPLE_SECURITY,
    }),
  );
});
afterAll(async () => {
  // A gateway this test started and that outlived the test is ended here, by its pid: SIGTERM (so it
  // closes its browser), SIGKILL if it is still there 15 s later.
  const left = gateways.filter(alive);
  for (const pid of left) process.kill(pid, 'SIGTERM');
  await vi.waitFor(() => expect(left.filter(alive)).toEqual([]), { timeout: 15_000, interval: 100 }).catch(() => undefined);
  for (const pid of left.filter(alive)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes below `pid` (from /proc) that run bin/ficus.js (node itself, not a shell that starts it). */
function ficusProcessesUnder(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const under = (p: number): boolean => {
    for (let q = parent.get(p), hops = 0; q !== undefined && hops < 20; q = parent.get(q), hops++) if (q === pid) return true;
    return false;
  };
  return [...parent.keys()].filter((p) => {
    if (!under(p)) return false;
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8')
        .split('\0')
        .some((arg) => arg.endsWith('bin/ficus.js'));
    } catch {
      return false;
    }
  });
}

/** `npm start` with this test's config; resolves once the gateway's banner is out, with the gateway's pid. */
async function npmStart(): Promise<{ npm: ChildProcess; gatewayPid: number; npmExited: Promise<void> }> {
  const npm = spawn('npm', ['start', '--', '--root', dir, '--config', config], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, BILLING_UI_PROBE_INTERVAL_MS: '600000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  npm.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  await vi.waitFor(
    () => {
      if (npm.exitCode !== null) throw new Error(`npm start exited before the gateway listened:\n${out}`);
      expect(out).toMatch(/Ficus gateway listening on http:\/\/127\.0\.0\.1:\d+/);
    },
    { timeout: 90_000, interval: 200 },
  );
  const pids = ficusProcessesUnder(npm.pid as number);
  gateways.push(...pids);
  expect(pids).toHaveLength(1);
  return { npm, gatewayPid: pids[0], npmExited };
}

describe('npm start, stopped through npm', () => {
  it('SIGTERM to npm stops the gateway too', async () => {
    const { npm, gatewayPid, npmExited } = await npmStart();
    npm.kill('SIGTERM');
    await npmExited;
    await vi.waitFor(() => expect(alive(gatewayPid)).toBe(false), { timeout: 30_000, interval: 100 });
  }, 150_000);

  it('npm killed outright (SIGKILL): the gateway notices and stops', async () => {
    const { npm, gatewayPid, npmExited } = await npmStart();
    npm.kill('SIGKILL');
    await npmExited;
    await vi.waitFor(() => expect(alive(gatewayPid)).toBe(false), { timeout: 30_000, interval: 100 });
  }, 150_000);
});
