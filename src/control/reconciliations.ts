/**
 * Each route's latest reconciliation, as the control plane shows it and the gates judge it: read from
 * the state store (where `ficus reconcile`, in whatever process, writes its summary) at most every
 * `maxAgeMs`, so that the gates' round each second and the dashboard's refreshes cost one query now and then.
 */
import type { SqlStore } from '../state/sql-store.ts';
import { ReconcileStore, type ReconcileSummary } from '../reconcile/reconcile-store.ts';

export class Reconciliations {
  readonly store: ReconcileStore;
  private latest = new Map<string, ReconcileSummary>();
  private readAt = 0;
  private reading: Promise<void> | undefined;

  constructor(
    store: SqlStore,
    private readonly maxAgeMs = 2_000,
  ) {
    this.store = new ReconcileStore(store);
  }

  async start(): Promise<void> {
    await this.store.migrate();
    await this.refresh(true);
  }

  /** Reads the latest runs again when what is held is older than `maxAgeMs` (or now, `force`). A failed read keeps what is held. */
  refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.readAt < this.maxAgeMs) return Promise.resolve();
    this.reading ??= this.store
      .latest()
      .then((m) => {
        this.latest = m;
        this.readAt = Date.now();
      })
      .catch(() => undefined)
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  of(operationId: string): ReconcileSummary | undefined {
    return this.latest.get(operationId);
  }

  all(): ReconcileSummary[] {
    return [...this.latest.values()];
  }
}
