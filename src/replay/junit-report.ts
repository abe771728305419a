/** The replay as JUnit XML for CI: a test suite per operation, a test case per exchange, unreadable lines as errors. */
import { differenceLine } from './diff-text.ts';
import type { ReplayRun } from './replay-engine.ts';

export function xmlEscape(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

export function junitXml(run: ReplayRun): string {
  const byOp = new Map<string, typeof run.results>();
  for (const r of run.results) {
    const list = byOp.get(r.item.exchange.operationId);
    if (list) list.push(r);
    else byOp.set(r.item.exchange.operationId, [r]);
  }
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skippedAll = 0;
  for (const op of [...byOp.keys()].sort()) {
    const results = byOp.get(op) ?? [];
    const f = results.filter((r) => r.outcome === 'fail').length;
    const e = results.filter((r) => r.outcome === 'error').length;
    const s = results.filter((r) => r.outcome === 'skipped').length;
    tests += results.length;
    failures += f;
    errors += e;
    skippedAll += s;
    const cases = results.map((r) => {
      const x = r.item.exchange;
      const name = xmlEscape(`${x.request.method} ${x.request.path} (${r.item.file}:${r.item.line})`);
      const head = `    <testcase classname="replay.${xmlEscape(op)}" name="${name}" time="${(r.durationMs / 1000).toFixed(3)}"`;
      if (r.outcome === 'pass') return `${head}/>`;
      if (r.outcome === 'skipped') return `${head}>\n      <skipped message="${xmlEscape(r.reason ?? '')}"/>\n    </testcase>`;
      if (r.outcome === 'error') return `${head}>\n      <error message="${xmlEscape(r.reason ?? 'error')}"/>\n    </testcase>`;
      const text = r.differences.map(differenceLine).join('\n');
      return `${head}>\n      <failure message="${xmlEscape(`${r.differences.length} difference${r.differences.length === 1 ? '' : 's'} from the recording`)}">${xmlEscape(text)}</failure>\n    </testcase>`;
    });
    suites.push(
      `  <testsuite name="replay.${xmlEscape(op)}" tests="${results.length}" failures="${f}" errors="${e}" skipped="${s}" time="${(results.reduce((n, r) => n + r.durationMs, 0) / 1000).toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  if (run.bad.length > 0) {
    const cases = run.bad.map((b) => `    <testcase classname="replay.recordings" name="${xmlEscape(`${b.file}:${b.line}`)}">\n      <error message="${xmlEscape(b.reason)}"/>\n    </testcase>`);
    suites.push(`  <testsuite name="replay.recordings" tests="${run.bad.length}" failures="0" errors="${run.bad.length}" skipped="0">\n${cases.join('\n')}\n  </testsuite>`);
    tests += run.bad.length;
    errors += run.bad.length;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="ficus replay against ${xmlEscape(run.target)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skippedAll}" time="${(run.durationMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
