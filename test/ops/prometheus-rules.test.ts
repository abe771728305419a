/**
 * The alerting rules in ops/prometheus are valid and behave: `promtool check rules` accepts them and
 * `promtool test rules` runs their unit tests (ops/prometheus/ficus-rules.test.yaml: each alert fires on
 * what should wake someone and stays quiet on its look-alike). Needs promtool (Debian's `prometheus`
 * package); without it the test is skipped and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const RULES_DIR = join(PROJECT_ROOT, 'ops', 'prometheus');
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

describe.skipIf(!hasPromtool)(`alerting rules${hasPromtool ? '' : ' (skipped: promtool is not installed; apt-get install prometheus)'}`, () => {
  it('are valid rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', 'ficus-rules.yaml'], { cwd: RULES_DIR, encoding: 'utf8' });
    expect(out).toContain('SUCCESS: 8 rules found');
  });

  it('pass their unit tests: each alert fires when it should, and not on its look-alike', () => {
    const r = spawnSync('promtool', ['test', 'rules', 'ficus-rules.test.yaml'], { cwd: RULES_DIR, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
