/**
 * The replay as one self-contained HTML file (no scripts, no outside assets): the counts per
 * operation, then each failing exchange with its differences and the recorded and replayed answers
 * side by side, the differing fields highlighted.
 */
import { formatPath, type Segment } from '../compare/json-path.ts';
import { differenceLine } from './diff-text.ts';
import type { ExchangeResult, ReplayRun } from './replay-engine.ts';

/** Past this many differing exchanges the page would be too big to open; the rest are counted. */
const MAX_SHOWN = 500;

export function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Pretty JSON as HTML, with the nodes at `marked` paths (or below them) highlighted. */
export function jsonHtml(value: unknown, marked: ReadonlySet<string>, path: Segment[] = [], indent = ''): string {
  const here = formatPath(path);
  const mark = (html: string) => (marked.has(here) ? `<mark>${html}</mark>` : html);
  if (Array.isArray(value)) {
    if (value.length === 0) return mark('[]');
    const inner = value.map((v, i) => `${indent}  ${jsonHtml(v, marked, [...path, i], indent + '  ')}`).join(',\n');
    return mark(`[\n${inner}\n${indent}]`);
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return mark('{}');
    const inner = keys
      .map((k) => {
        const childPath = [...path, k];
        const child = jsonHtml((value as Record<string, unknown>)[k], marked, childPath, indent + '  ');
        return `${indent}  <span class="k">${htmlEscape(JSON.stringify(k))}</span>: ${child}`;
      })
      .join(',\n');
    return mark(`{\n${inner}\n${indent}}`);
  }
  return mark(`<span class="v">${htmlEscape(value === undefined ? '(absent)' : JSON.stringify(value))}</span>`);
}

function exchangeSection(r: ExchangeResult, n: number): string {
  const e = r.item.exchange;
  const marked = new Set(r.differences.map((d) => d.path));
  const title = `${e.operationId} &middot; ${htmlEscape(e.request.method)} ${htmlEscape(e.request.path)}${Object.keys(e.request.query).length ? htmlEscape('?' + new URLSearchParams(Object.entries(e.request.query).map(([k, v]) => [k, String(v)])).toString()) : ''}`;
  const diffs =
    r.outcome === 'error'
      ? `<p class="err">No comparison: ${htmlEscape(r.reason ?? 'error')}</p>`
      : `<ul>${r.differences.map((d) => `<li><code>${htmlEscape(differenceLine(d))}</code></li>`).join('')}</ul>`;
  const statusLine = (s: number | undefined) => (s === undefined ? '' : `<div class="st">status ${s}</div>`);
  return `<section id="x${n}">
<h3>${title}</h3>
<p class="src">${htmlEscape(r.item.file)}:${r.item.line} &middot; recorded ${htmlEscape(e.time)} from ${htmlEscape(e.backend ?? 'unknown backend')}${e.adapter ? ` (${htmlEscape(e.adapter)})` : ''}${e.count > 1 ? ` &middot; seen ${e.count} times` : ''}</p>
${diffs}
<div class="side">
<div><h4>recorded</h4>${statusLine(e.response.status)}<pre>${jsonHtml(e.response.body, marked)}</pre></div>
<div><h4>replayed</h4>${statusLine(r.actual?.status)}<pre>${r.actual ? jsonHtml(r.actual.body, marked) : '(no answer)'}</pre></div>
</div>
</section>`;
}

export function htmlReport(run: ReplayRun): string {
  const failing = run.results.filter((r) => r.outcome === 'fail' || r.outcome === 'error');
  const rows = Object.keys(run.byOperation)
    .sort()
    .map((op) => {
      const c = run.byOperation[op];
      return `<tr class="${c.fail + c.error > 0 ? 'bad' : 'good'}"><td>${htmlEscape(op)}</td><td>${c.pass}</td><td>${c.fail}</td><td>${c.error}</td><td>${c.skipped}</td><td>${htmlEscape((run.noise[op] ?? []).join(', '))}</td></tr>`;
    })
    .join('\n');
  const bad =
    run.bad.length === 0
      ? ''
      : `<h2>Lines that could not be replayed</h2><ul>${run.bad.map((b) => `<li><code>${htmlEscape(`${b.file}:${b.line}`)}</code> ${htmlEscape(b.reason)}</li>`).join('')}</ul>`;
  const verdict =
    failing.length === 0
      ? '<p class="pass">PASS: every replayed answer matches its recording.</p>'
      : `<p class="fail">FAIL: ${failing.length} exchange${failing.length === 1 ? '' : 's'} differ or got no answer.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ficus replay against ${htmlEscape(run.target)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
tr.bad td{background:#fde8e8}tr.good td{background:#eef8ee}
.pass{color:#176317;font-weight:bold}.fail{color:#a11;font-weight:bold}
section{border-top:1px solid #ddd;margin-top:1.5em;padding-top:.5em}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}
mark{background:#ffd54f}.k{color:#7a3e9d}.src,.st{color:#666}.err{color:#a11}
</style></head><body>
<h1>Replay against ${htmlEscape(run.target)}</h1>
<p>${run.results.length} exchanges, started ${htmlEscape(run.startedAt)}, took ${(run.durationMs / 1000).toFixed(1)} s${run.baseline ? ', after a noise baseline' : ''}.</p>
${verdict}
<table><tr><th>operation</th><th>pass</th><th>fail</th><th>error</th><th>skipped</th><th>noise (not compared)</th></tr>
${rows}
</table>
${bad}
${failing.length > 0 ? '<h2>Differences</h2>' : ''}
${failing.length > MAX_SHOWN ? `<p>The first ${MAX_SHOWN} of ${failing.length} differing exchanges are shown; the JUnit report lists them all.</p>` : ''}
${failing
  .slice(0, MAX_SHOWN)
  .map((r, i) => exchangeSection(r, i))
  .join('\n')}
</body></html>
`;
}
