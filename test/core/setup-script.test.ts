/**
 * The README's first command installs what the sample needs on a fresh machine (scripts/setup.sh):
 * Chromium from Debian's package where apt-get can be used, Playwright's own download elsewhere, a
 * clear message where neither works; nothing done when everything is there. apt-get and npx are
 * stand-ins here that only write down how they were called, on a PATH of their own.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const SCRIPT = join(PROJECT_ROOT, 'scripts/setup.sh');
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A folder of stand-in commands, each logging `name args…` to calls.log and exiting with the given code. */
function standIns(commands: Record<string, number>): { bin: string; calls(): string[] } {
  const bin = mkdtempSync(join(tmpdir(), 'ficus-setup-'));
  dirs.push(bin);
  const log = join(bin, 'calls.log');
  for (const [name, code] of Object.entries(commands)) {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/bash\nprintf '%s\\n' "${name} $*" >> '${log}'\nexit ${code}\n`);
    chmodSync(file, 0o755);
  }
  return { bin, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

function setup(bin: string, env: Record<string, string> = {}) {
  return spawnSync('/bin/bash', [SCRIPT], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { PATH: bin, HOME: tmpdir(), ...env }, timeout: 30_000 });
}

describe('setting up a fresh machine for the sample', () => {
  it("the README's first command installs (npm run setup: npm ci, then scripts/setup.sh) and starts", () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const first = /```sh\n([^\n]*)/.exec(readme)?.[1] ?? '';
    expect(first.split('#')[0].trim()).toBe('npm run setup && npm start');
    const scripts = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.setup).toMatch(/^npm ci\b.*&& bash scripts\/setup\.sh$/);
  });

  it.runIf(isRoot)("as root with apt-get and no Chromium or sshd: installs Debian's chromium and openssh-server", () => {
    const s = standIns({ 'apt-get': 0 });
    const r = setup(s.bin, { FICUS_SETUP_SSHD: '/nonexistent/sshd' });
    expect(r.status, r.stderr).toBe(0);
    expect(s.calls()).toEqual(['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends chromium openssh-server']);
    expect(r.stdout).toContain('installing Debian packages: chromium openssh-server');
  });

  it('does nothing when Chromium and sshd are there (it can run again and again)', () => {
    const s = standIns({ 'apt-get': 0, npx: 0, chromium: 0, sshd: 0 });
    const r = setup(s.bin);
    expect(r.status, r.stderr).toBe(0);
    expect(s.calls()).toEqual([]);
    expect(r.stdout).toContain('nothing to do');
  });

  it("without apt-get: tries Playwright's own Chromium download, and says what to do when that fails too", () => {
    const s = standIns({ npx: 1, sshd: 0 });
    const r = setup(s.bin);
    expect(r.status, r.stderr).toBe(0);
    expect(s.calls()).toEqual(['npx --no-install playwright-core install chromium']);
    expect(r.stdout).toContain('could not install Chromium. The screen adapter (billing-ui) stays DOWN');
    expect(r.stdout).toContain('sudo apt-get install chromium');
    expect(r.stdout).toContain('FICUS_CHROMIUM');
  });

  it("without apt-get but with Playwright's download working: Chromium comes from Playwright", () => {
    const s = standIns({ npx: 0, sshd: 0 });
    const r = setup(s.bin);
    expect(r.status, r.stderr).toBe(0);
    expect(s.calls()).toEqual(['npx --no-install playwright-core install chromium']);
    expect(r.stdout).toContain('Chromium installed by Playwright');
  });
});
