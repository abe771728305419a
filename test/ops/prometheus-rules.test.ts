/**
 * The alerting rules in ops/prometheus are valid and behave: `promtool check rules` accepts them and
 * `promtool test rules` runs their unit tests (ops/prometheus/ficus-rules.test.yaml: each alert fires on
 * what should wake someone and stays quiet on its look-alike). Needs promtool (Debian's `prometheus`
 * package); without it the test is skipped and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const RULES_DIR = join(PROJECT_ROOT, 'ops', 'prometheus');
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

describe.skipIf(!hasPromtool)(`alerting rules${hasPromtool ? '' : ' (skipped: promtool is not installed; apt-get install prometheus)'}`, () => {
  it('are valid rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', 'ficus-rules.yaml'], { cwd: RULES_DIR, encoding: 'utf8' });
    expect(out).toContain('SUCCESS: 8 rules found');
  });

  it('each have a unit test in which they fire', () => {
    const rules = (parse(readFileSync(join(RULES_DIR, 'ficus-rules.yaml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const cases = (parse(readFileSync(join(RULES_DIR, 'ficus-rules.test.yaml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap(
      (t) => t.alert_rule_test,
    );
    for (const alert of rules) {
      expect(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert} is tested firing`,
      ).toBe(true);
      // (Its look-alike that must stay quiet is a series of the same case, or a case of its own with no alert expected.)
    }
  });

  it('pass their unit tests: each alert fires when it should, and not on its look-alike', () => {
    const r = spawnSync('promtool', ['test', 'rules', 'ficus-rules.test.yaml'], { cwd: RULES_DIR, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
