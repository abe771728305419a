/** A reconciliation's reports: text for the console, HTML for people, JUnit XML for CI (one test case per key not equal, and one for the equal ones). */
import type { Difference } from '../compare/comparator.ts';
import { showValue } from '../replay/diff-text.ts';
import { htmlEscape } from '../replay/html-report.ts';
import { xmlEscape } from '../replay/junit-report.ts';
import type { KeyResult, ParityReport } from './reconcile-engine.ts';

export function diffLine(d: Difference): string {
  if (d.kind === 'missing') return `${d.path}: legacy ${showValue(d.legacy)}, missing in modern`;
  if (d.kind === 'extra') return `${d.path}: absent in legacy, modern ${showValue(d.modern)}`;
  return `${d.path}: legacy ${showValue(d.legacy)}, modern ${showValue(d.modern)}`;
}

function why(r: KeyResult): string {
  if (r.outcome === 'missing-modern') return 'legacy has it; modern answers 404';
  if (r.outcome === 'missing-legacy') return 'modern has it; legacy answers 404';
  if (r.outcome === 'error') return `not compared: ${r.reason ?? 'no answer'}`;
  return r.differences.map(diffLine).join('\n');
}

export function parityPercent(r: ParityReport): number {
  return r.counts.keys === 0 ? 100 : Math.round((r.counts.equal / r.counts.keys) * 10_000) / 100;
}

export function paritySummary(r: ParityReport, maxShown = 20): string {
  const c = r.counts;
  const lines = [
    `reconcile ${r.operation} against modern: ${c.keys} keys in ${(r.durationMs / 1000).toFixed(1)} s (${Math.round(c.keys / Math.max(0.001, r.durationMs / 1000))} keys/s)`,
    `  equal ${c.equal}, different ${c.different}, missing in modern ${c['missing-modern']}, missing in legacy ${c['missing-legacy']}, not compared ${c.error}: parity ${parityPercent(r)}%`,
  ];
  for (const x of r.results.slice(0, maxShown)) lines.push(`  ${x.key} ${x.outcome}: ${why(x).split('\n').join('; ')}`);
  if (r.results.length > maxShown) lines.push(`  … and ${r.results.length - maxShown} more (see the HTML report)`);
  return lines.join('\n');
}

export function parityJunit(r: ParityReport): string {
  const failures = r.counts.different + r.counts['missing-modern'] + r.counts['missing-legacy'];
  const cases = r.results.map((x) => {
    const tag = x.outcome === 'error' ? 'error' : 'failure';
    return `    <testcase classname="reconcile.${xmlEscape(r.operation)}" name="${xmlEscape(x.key)}"><${tag} message="${xmlEscape(x.outcome)}">${xmlEscape(why(x))}</${tag}></testcase>`;
  });
  cases.push(`    <testcase classname="reconcile.${xmlEscape(r.operation)}" name="${r.counts.equal} keys equal"/>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="ficus reconcile" tests="${r.results.length + 1}" failures="${failures}" errors="${r.counts.error}" time="${(r.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xmlEscape(r.operation)}" tests="${r.results.length + 1}" failures="${failures}" errors="${r.counts.error}" timestamp="${r.startedAt}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function parityHtml(r: ParityReport): string {
  const c = r.counts;
  const rows = r.results
    .map(
      (x) =>
        `<tr class="${x.outcome}"><td>${htmlEscape(x.key)}</td><td>${htmlEscape(x.outcome)}</td><td><pre>${htmlEscape(why(x))}</pre></td>` +
        `<td><details><summary>answers</summary><pre>legacy ${htmlEscape(JSON.stringify(x.legacy ?? null, null, 2))}</pre><pre>modern ${htmlEscape(JSON.stringify(x.modern ?? null, null, 2))}</pre></details></td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reconciliation of ${htmlEscape(r.operation)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;vertical-align:top;text-align:left}
.different td:nth-child(2){color:#a40}.missing-modern td:nth-child(2),.missing-legacy td:nth-child(2){color:#a00}.error td:nth-child(2){color:#666}pre{margin:0;white-space:pre-wrap}</style></head>
<body><h1>Reconciliation of ${htmlEscape(r.operation)}: legacy against modern</h1>
<p>${r.startedAt}, ${c.keys} keys in ${(r.durationMs / 1000).toFixed(1)} s. <strong>Parity ${parityPercent(r)}%</strong></p>
<table><tr><th>equal</th><th>different</th><th>missing in modern</th><th>missing in legacy</th><th>not compared</th></tr>
<tr><td>${c.equal}</td><td>${c.different}</td><td>${c['missing-modern']}</td><td>${c['missing-legacy']}</td><td>${c.error}</td></tr></table>
<h2>Keys that are not equal</h2>
<table><tr><th>key</th><th>outcome</th><th>differences</th><th></th></tr>
${rows || '<tr><td colspan="4">none</td></tr>'}
</table></body></html>
`;
}
