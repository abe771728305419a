/**
 * Reconciliation runs' summaries in the gateway's state store, per route: what `ficus reconcile`
 * found (counts and parity, not the differences themselves), so that the admin API and the dashboard
 * show each route's latest reconciliation beside its shadow match rate, and a promotion gate can
 * require a recent clean one. Every instance sharing the store sees every run, whichever process ran it.
 */
import type { SqlStore } from '../state/sql-store.ts';
import { parityPercent } from './parity-reports.ts';
import type { ParityReport } from './reconcile-engine.ts';

export interface ReconcileSummary {
  operation: string;
  /** When the run started and finished (ISO 8601). */
  startedAt: string;
  finishedAt: string;
  keys: number;
  equal: number;
  different: number;
  missingModern: number;
  missingLegacy: number;
  /** Keys that could not be compared. */
  errors: number;
  /** Percent of the keys equal on both sides. */
  parity: number;
}

interface SummaryRow {
  operation: string;
  started_at: string;
  finished_at: number | string;
  keys: number | string;
  equal_keys: number | string;
  different: number | string;
  missing_modern: number | string;
  missing_legacy: number | string;
  errors: number | string;
  parity: number | string;
}

/** Runs kept per route (older ones are deleted as new ones come). */
const KEPT = 50;

export function summaryOf(r: ParityReport, finishedAt = new Date()): ReconcileSummary {
  const c = r.counts;
  return {
    operation: r.operation,
    startedAt: r.startedAt,
    finishedAt: finishedAt.toISOString(),
    keys: c.keys,
    equal: c.equal,
    different: c.different,
    missingModern: c['missing-modern'],
    missingLegacy: c['missing-legacy'],
    errors: c.error,
    parity: parityPercent(r),
  };
}

const toSummary = (r: SummaryRow): ReconcileSummary => ({
  operation: r.operation,
  startedAt: r.started_at,
  finishedAt: new Date(Number(r.finished_at)).toISOString(),
  keys: Number(r.keys),
  equal: Number(r.equal_keys),
  different: Number(r.different),
  missingModern: Number(r.missing_modern),
  missingLegacy: Number(r.missing_legacy),
  errors: Number(r.errors),
  parity: Number(r.parity),
});

export class ReconcileStore {
  constructor(private readonly store: SqlStore) {}

  async migrate(): Promise<void> {
    await this.store.migrate('reconcile', [
      `CREATE TABLE reconcile_runs (operation TEXT NOT NULL, started_at TEXT NOT NULL, finished_at BIGINT NOT NULL, keys INTEGER NOT NULL, equal_keys INTEGER NOT NULL,
        different INTEGER NOT NULL, missing_modern INTEGER NOT NULL, missing_legacy INTEGER NOT NULL, errors INTEGER NOT NULL, parity REAL NOT NULL,
        PRIMARY KEY (operation, finished_at))`,
    ]);
  }

  async record(s: ReconcileSummary): Promise<void> {
    const at = Date.parse(s.finishedAt);
    await this.store.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO reconcile_runs (operation, started_at, finished_at, keys, equal_keys, different, missing_modern, missing_legacy, errors, parity)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (operation, finished_at) DO NOTHING`,
        [s.operation, s.startedAt, at, s.keys, s.equal, s.different, s.missingModern, s.missingLegacy, s.errors, s.parity],
      );
      const old = await tx.get<{ finished_at: number | string }>('SELECT finished_at FROM reconcile_runs WHERE operation = ? ORDER BY finished_at DESC LIMIT 1 OFFSET ?', [s.operation, KEPT]);
      if (old) await tx.run('DELETE FROM reconcile_runs WHERE operation = ? AND finished_at <= ?', [s.operation, Number(old.finished_at)]);
    });
  }

  /** The latest run of each route that has one. */
  async latest(): Promise<Map<string, ReconcileSummary>> {
    const rows = await this.store.all<SummaryRow>(
      'SELECT r.* FROM reconcile_runs r WHERE r.finished_at = (SELECT MAX(x.finished_at) FROM reconcile_runs x WHERE x.operation = r.operation) ORDER BY r.operation',
    );
    return new Map(rows.map((r) => [r.operation, toSummary(r)]));
  }

  /** The runs of one route, newest first. */
  async history(operation: string, limit = 20): Promise<ReconcileSummary[]> {
    const rows = await this.store.all<SummaryRow>('SELECT * FROM reconcile_runs WHERE operation = ? ORDER BY finished_at DESC LIMIT ?', [operation, limit]);
    return rows.map(toSummary);
  }
}
