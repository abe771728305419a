/** The console side of a replay: a progress bar while it runs, then a summary per operation and the first differences. */
import cliProgress from 'cli-progress';
import { differenceLine } from './diff-text.ts';
import type { ReplayRun } from './replay-engine.ts';

export interface Progress {
  update(phase: 'baseline' | 'replay', done: number, total: number): void;
  stop(): void;
}

/** A progress bar on a terminal; nothing when the output is not one (CI logs stay readable). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream, format: ' {phase} [{bar}] {percentage}% | {value}/{total} exchanges | {eta_formatted} left', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let phase: string | undefined;
  return {
    update(p, done, total) {
      if (p !== phase) {
        if (phase) bar.stop();
        phase = p;
        bar.start(total, 0, { phase: p.padEnd(8) });
      }
      bar.update(done, { phase: p.padEnd(8) });
    },
    stop() {
      if (phase) bar.stop();
    },
  };
}

export function summaryText(run: ReplayRun, opts: { maxShown?: number } = {}): string {
  const maxShown = opts.maxShown ?? 10;
  const lines: string[] = [];
  const total = run.results.length;
  const count = (o: string) => run.results.filter((r) => r.outcome === o).length;
  const rate = run.durationMs > 0 ? Math.round((total / run.durationMs) * 1000) : total;
  lines.push(`Replayed ${total} exchange${total === 1 ? '' : 's'} against ${run.target}${run.baseline ? ' (after a noise baseline)' : ''} in ${(run.durationMs / 1000).toFixed(1)} s (${rate}/s)`);
  lines.push('');
  const ops = Object.keys(run.byOperation).sort();
  const w = Math.max(9, ...ops.map((o) => o.length));
  lines.push(`  ${'operation'.padEnd(w)}  ${'pass'.padStart(6)} ${'fail'.padStart(6)} ${'error'.padStart(6)} ${'skipped'.padStart(8)}`);
  for (const op of ops) {
    const c = run.byOperation[op];
    lines.push(`  ${op.padEnd(w)}  ${String(c.pass).padStart(6)} ${String(c.fail).padStart(6)} ${String(c.error).padStart(6)} ${String(c.skipped).padStart(8)}`);
  }
  lines.push(`  ${'total'.padEnd(w)}  ${String(count('pass')).padStart(6)} ${String(count('fail')).padStart(6)} ${String(count('error')).padStart(6)} ${String(count('skipped')).padStart(8)}`);
  const noisy = Object.entries(run.noise).filter(([, p]) => p.length > 0);
  if (noisy.length > 0) {
    lines.push('', 'Noise (differs between two answers of the recorded backend; not compared):');
    for (const [op, paths] of noisy) lines.push(`  ${op}: ${paths.join(', ')}`);
  }
  const failing = run.results.filter((r) => r.outcome === 'fail' || r.outcome === 'error');
  if (failing.length > 0) {
    lines.push('', `Differences${failing.length > maxShown ? ` (first ${maxShown} of ${failing.length})` : ''}:`);
    for (const r of failing.slice(0, maxShown)) {
      const e = r.item.exchange;
      lines.push(
        `  ${r.item.file}:${r.item.line}  ${e.operationId}  ${e.request.method} ${e.request.path}${Object.keys(e.request.query).length ? '?' + new URLSearchParams(Object.entries(e.request.query).map(([k, v]) => [k, String(v)])).toString() : ''}`,
      );
      if (r.outcome === 'error') lines.push(`      error: ${r.reason ?? 'unknown'}`);
      for (const d of r.differences.slice(0, 10)) lines.push(`      ${differenceLine(d)}`);
      if (r.differences.length > 10) lines.push(`      … and ${r.differences.length - 10} more`);
    }
  }
  const skipped = run.results.filter((r) => r.outcome === 'skipped');
  if (skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const r of skipped) reasons.set(r.reason ?? 'skipped', (reasons.get(r.reason ?? 'skipped') ?? 0) + 1);
    lines.push('', `Skipped ${skipped.length}:`);
    for (const [reason, n] of reasons) lines.push(`  ${n}× ${reason}`);
  }
  if (run.bad.length > 0) {
    lines.push('', `Lines that could not be replayed (${run.bad.length}):`);
    for (const b of run.bad.slice(0, 20)) lines.push(`  ${b.file}${b.line ? `:${b.line}` : ''}: ${b.reason}`);
    if (run.bad.length > 20) lines.push(`  … and ${run.bad.length - 20} more`);
  }
  lines.push(
    '',
    failing.length === 0
      ? run.bad.length === 0
        ? 'PASS: every replayed answer matches its recording.'
        : 'PASS with unreadable lines (see above).'
      : `FAIL: ${failing.length} exchange${failing.length === 1 ? '' : 's'} differ or got no answer.`,
  );
  return lines.join('\n');
}
