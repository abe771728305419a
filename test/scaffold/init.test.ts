/**
 * `ficus init`: a new project with the folders, an empty contract, the gateway's settings (state in
 * SQLite), CI and README stubs, that `ficus check` accepts as it is; a folder that is not empty is
 * refused unless --force, and then what is there is kept.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { ficus, tempDir } from './scaffold-support.ts';

describe('ficus init', () => {
  it('writes a project that ficus check passes, without the sample estate', async () => {
    const t = tempDir();
    try {
      const root = join(t.dir, 'new-api');
      const r = await ficus(['init', root]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('wrote openapi.yaml');
      for (const f of ['ficus.yaml', 'openapi.yaml', 'adapters/.gitkeep', 'recordings/.gitkeep', 'layouts/.gitkeep', '.github/workflows/ficus.yml', 'README.md', 'package.json', '.gitignore']) {
        expect(existsSync(join(root, f)), f).toBe(true);
      }
      const contract = parseYaml(readFileSync(join(root, 'openapi.yaml'), 'utf8'));
      expect(contract.openapi).toBe('3.1.0');
      expect(contract.paths).toEqual({});
      const gateway = parseYaml(readFileSync(join(root, 'ficus.yaml'), 'utf8'));
      expect(gateway.state).toEqual({ driver: 'sqlite', file: 'var/ficus-state.sqlite' });
      const ci = parseYaml(readFileSync(join(root, '.github/workflows/ficus.yml'), 'utf8'));
      const runs = ci.jobs.check.steps.map((s: { run?: string }) => s.run).filter(Boolean);
      expect(runs).toContain('npx ficus check');
      expect(runs.some((x: string) => x.startsWith('npx ficus replay'))).toBe(true);
      expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies.ficus).toMatch(/^file:/);
      // Nothing of the sample: no adapters, no sample recordings.
      expect(existsSync(join(root, 'adapters/crm-db'))).toBe(false);
      expect(existsSync(join(root, 'sample'))).toBe(false);

      const check = await ficus(['check', '--root', root]);
      expect(check.stderr).toBe('');
      expect(check.code).toBe(0);
      expect(check.stdout).toContain('are correct');
      // As CI runs it (npx ficus check: the ficus command, in the project's folder).
      const npx = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'check'], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
      expect(npx.stderr).toBe('');
      expect(npx.status).toBe(0);
    } finally {
      t.remove();
    }
  });

  it('refuses a folder that is not empty unless --force, and --force keeps the files there', async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'p'));
      writeFileSync(join(t.dir, 'p', 'openapi.yaml'), 'openapi: 3.1.0\ninfo: { title: mine, version: 1.0.0 }\npaths: {}\n');
      const refused = await ficus(['init', join(t.dir, 'p')]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is not empty \(openapi\.yaml\)/);
      expect(refused.stderr).toContain('--force');
      expect(existsSync(join(t.dir, 'p', 'ficus.yaml'))).toBe(false);

      const forced = await ficus(['init', join(t.dir, 'p'), '--force']);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('kept  openapi.yaml');
      expect(readFileSync(join(t.dir, 'p', 'openapi.yaml'), 'utf8')).toContain('title: mine');
      expect(existsSync(join(t.dir, 'p', 'ficus.yaml'))).toBe(true);
      expect((await ficus(['check', '--root', join(t.dir, 'p')])).code).toBe(0);
    } finally {
      t.remove();
    }
  });
});
