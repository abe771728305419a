/**
 * `ficus reconcile` as a function: starts the project's gateway in this process (its adapters, no
 * listener; change feeds and event delivery off), reconciles, writes the reports and keeps the
 * run's summary in the state store (the dashboard shows it; a promotion gate may require it). The
 * CLI and the tests call it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Env } from '../config/env.ts';
import { Gateway } from '../gateway.ts';
import type { Logger } from '../observability/logger.ts';
import { loadReplayProject } from '../replay/replay-project.ts';
import { parityHtml, parityJunit, paritySummary } from './parity-reports.ts';
import { parityExitCode, reconcile, type ParityReport } from './reconcile-engine.ts';
import { ReconcileStore, summaryOf } from './reconcile-store.ts';

export interface RunReconcileOptions {
  operation: string;
  keysFrom?: string;
  keys?: string[];
  keyField?: string;
  against: string;
  root?: string;
  config?: string;
  env?: Env;
  ratePerSecond?: number;
  concurrency?: number;
  ignore?: string[];
  html?: string;
  junit?: string;
  json?: string;
  /** Keep the run's summary in the state store, for the dashboard and the promotion gates (default true). */
  record?: boolean;
  logger?: Logger;
  onProgress?: (done: number, total: number) => void;
}

export async function runReconcile(o: RunReconcileOptions): Promise<{ report: ParityReport; exitCode: number; summary: string }> {
  if (o.against !== 'modern') throw new Error(`--against must be modern (legacy is always the reference), not "${o.against}"`);
  if (!o.keysFrom && (!o.keys || o.keys.length === 0)) throw new Error('give --keys-from <listOperation> or --keys <k1,k2,…>: reconciliation needs the keys to walk');
  const root = resolve(o.root ?? '.');
  const env: Env = { ...(o.env ?? process.env), FICUS_CHANGES: 'off' };
  const project = loadReplayProject({ root, file: o.config, env });
  const gateway = await Gateway.create({ root, file: o.config, env, logger: o.logger, processMetrics: false });
  try {
    gateway.recorder.stopAll();
    const report = await reconcile({
      routes: gateway.routes,
      contract: project.contract,
      operation: o.operation,
      keysFrom: o.keysFrom,
      keys: o.keys,
      keyField: o.keyField,
      ratePerSecond: o.ratePerSecond,
      concurrency: o.concurrency,
      ignore: [...(o.ignore ?? []), ...(project.ignoreByOperation[o.operation] ?? [])],
      onProgress: o.onProgress,
    });
    if (o.html) write(o.html, parityHtml(report));
    if (o.junit) write(o.junit, parityJunit(report));
    if (o.json) write(o.json, JSON.stringify(report, null, 2));
    if (o.record !== false) {
      const runs = new ReconcileStore(gateway.store);
      await runs.migrate();
      await runs.record(summaryOf(report));
    }
    return { report, exitCode: parityExitCode(report), summary: paritySummary(report) };
  } finally {
    await gateway.close(1_000);
  }
}

function write(file: string, text: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, text);
}
