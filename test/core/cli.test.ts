import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, PROJECT_ROOT } from '../helpers/gateway.ts';

const FICUS = join(PROJECT_ROOT, 'bin/ficus.js');

describe('the ficus command', () => {
  it('lists its commands in --help', () => {
    const r = spawnSync(process.execPath, [FICUS, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('start');
    expect(r.stdout).toMatch(/Usage: ficus/);
  });

  it('refuses to start on a broken config with exit code 78 and a message naming file, key and fix', () => {
    const root = mkdtempSync(join(tmpdir(), 'ficus-cli-'));
    try {
      cpSync(join(FIXTURES, 'http-gateway'), root, { recursive: true });
      writeFileSync(join(root, 'ficus.yaml'), 'server:\n  prot: 8080\n');
      const r = spawnSync(process.execPath, [FICUS, 'start', '--root', root], { encoding: 'utf8', env: { ...process.env, UPSTREAM_URL: 'http://127.0.0.1:9' }, timeout: 20_000 });
      expect(r.status).toBe(78);
      expect(r.stderr).toMatch(/ficus.yaml:\d+: server.prot: unknown key "prot"/);
      expect(r.stderr).toContain('fix:');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
