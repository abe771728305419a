/**
 * `ficus record import` and `ficus record export` as functions (the CLI and the tests call them):
 * import writes matched, redacted exchanges into the project's recording folder (duplicates
 * collapsed, as recording does); export reads recordings, filtered by operation and time, and gives
 * HAR 1.2 or JSON Lines.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { Env } from '../config/env.ts';
import { readRecordings } from '../replay/recording-reader.ts';
import { loadReplayProject } from '../replay/replay-project.ts';
import { formatExchange, type RecordedExchange } from './exchange-format.ts';
import { toHar } from './har.ts';
import { importTraffic, unmatchedSummary, type BadEntry, type Unmatched } from './import.ts';
import { SegmentFiles } from './segment-files.ts';

export interface ImportOptions {
  paths: readonly string[];
  root?: string;
  config?: string;
  env?: Env;
  /** Where the recording goes; default the project's recording folder. */
  out?: string;
}

export interface ImportReport {
  /** Exchanges matched to an operation and written (duplicates counted on an earlier line). */
  imported: number;
  /** Lines written (imported less collapsed duplicates). */
  lines: number;
  collapsed: number;
  byOperation: Record<string, number>;
  unmatched: Unmatched[];
  bad: BadEntry[];
  files: string[];
  dir: string;
  durationMs: number;
}

export async function importRecordings(opts: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const root = resolve(opts.root ?? '.');
  const project = loadReplayProject({ root, file: opts.config, env: opts.env ?? process.env });
  const dir = opts.out ? resolve(opts.out) : isAbsolute(project.recording.dir) ? project.recording.dir : join(root, project.recording.dir);
  const result = importTraffic(opts.paths, project.contract, project.redactor);
  // In time order, so that "the most recent" of a recording means the same as in the source.
  const exchanges = [...result.exchanges].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const files = new SegmentFiles({ dir, maxFileBytes: project.recording.maxFileSize, rollEveryMs: Number.MAX_SAFE_INTEGER });
  let collapsed = 0;
  const byOperation: Record<string, number> = {};
  const BATCH = 1000;
  for (let i = 0; i < exchanges.length; i += BATCH) {
    const outcome = await files.append(exchanges.slice(i, i + BATCH));
    collapsed += outcome.filter((o) => o === 'collapsed').length;
  }
  await files.close();
  for (const e of exchanges) byOperation[e.operationId] = (byOperation[e.operationId] ?? 0) + 1;
  return {
    imported: exchanges.length,
    lines: exchanges.length - collapsed,
    collapsed,
    byOperation,
    unmatched: result.unmatched,
    bad: result.bad,
    files: result.files,
    dir,
    durationMs: performance.now() - started,
  };
}

export function importSummary(r: ImportReport): string {
  const lines: string[] = [];
  lines.push(`imported ${r.imported} exchanges from ${r.files.length} file(s) into ${r.dir} (${r.lines} lines, ${r.collapsed} duplicates collapsed) in ${Math.round(r.durationMs)} ms`);
  for (const [op, n] of Object.entries(r.byOperation).sort()) lines.push(`  ${op.padEnd(24)} ${n}`);
  if (r.unmatched.length > 0) {
    lines.push(`${r.unmatched.length} exchanges matched no operation of the contract (not imported):`);
    for (const u of unmatchedSummary(r.unmatched)) lines.push(`  ${u.request}  ${u.count}× (first: ${u.first})`);
  }
  if (r.bad.length > 0) {
    lines.push(`${r.bad.length} entries could not be read:`);
    for (const b of r.bad) lines.push(`  ${b.source}: ${b.reason}`);
  }
  return lines.join('\n');
}

export interface ExportOptions {
  format: 'har' | 'jsonl';
  /** Recording files or folders; default the project's recording folder. */
  paths?: readonly string[];
  root?: string;
  config?: string;
  env?: Env;
  operations?: readonly string[];
  /** Only exchanges recorded at or after this time (epoch ms). */
  since?: number;
  /** The scheme and host HAR URLs are given (recordings keep paths only). */
  baseUrl?: string;
}

/** The exchanges an export selects, in time order. */
export async function selectExchanges(opts: Omit<ExportOptions, 'format' | 'baseUrl'>): Promise<{ exchanges: RecordedExchange[]; bad: { file: string; line: number; reason: string }[] }> {
  const root = resolve(opts.root ?? '.');
  const project = loadReplayProject({ root, file: opts.config, env: opts.env ?? process.env });
  const dir = isAbsolute(project.recording.dir) ? project.recording.dir : join(root, project.recording.dir);
  const { items, bad } = await readRecordings(opts.paths && opts.paths.length > 0 ? opts.paths : [dir], project.contract, project.redactor);
  const ops = opts.operations && opts.operations.length > 0 ? new Set(opts.operations) : undefined;
  const exchanges = items
    .map((i) => i.exchange)
    .filter((e) => (!ops || ops.has(e.operationId)) && (opts.since === undefined || Date.parse(e.time) >= opts.since))
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return { exchanges, bad };
}

export async function exportRecordings(opts: ExportOptions): Promise<{ text: string; count: number; bad: { file: string; line: number; reason: string }[] }> {
  const { exchanges, bad } = await selectExchanges(opts);
  const text = opts.format === 'har' ? JSON.stringify(toHar(exchanges, opts.baseUrl), null, 2) + '\n' : exchanges.map((e) => formatExchange(e) + '\n').join('');
  return { text, count: exchanges.length, bad };
}
