/**
 * Cache settings changed at run time (the admin API's `PUT /cache/routes/<operationId>`), kept in the
 * state store (`ficus_cache_settings`, one row per route, versioned) and put in force on every instance
 * on the same store, the way route modes are (src/control/propagation.ts: PostgreSQL LISTEN/NOTIFY on a
 * channel of their own with a slow poll as a safety net; SQLite: polling every `admin.pollMs`). A change
 * survives restarts, until ficus.yaml's own settings for that route are edited: each row remembers the
 * ficus.yaml settings it was made over (`seed`), and a row made over other settings is not applied.
 */
import { StatePropagation } from '../control/propagation.ts';
import type { Logger } from '../observability/logger.ts';
import { OutageLog, type SqlStore } from '../state/sql-store.ts';
import { canonicalJson } from '../writes/canonical-json.ts';
import type { CacheRouteConfig } from './cache-config.ts';

export const CACHE_SETTINGS_CHANNEL = 'ficus_cache_settings';

interface SettingsRow {
  operation_id: string;
  settings: string;
  seed: string;
  version: number | string;
  changed_at: string;
  changed_by: string;
}

export interface CacheSettingsOptions {
  store: SqlStore;
  /** How often to re-read the rows (the safety net on PostgreSQL, the only way on SQLite). */
  pollMs: number;
  logger: Logger;
  /** ficus.yaml's settings of a route (undefined: not listed). */
  configured(operationId: string): CacheRouteConfig | undefined;
  /** Puts a route's settings in force on this instance. */
  apply(operationId: string, config: CacheRouteConfig): void;
}

export class CacheSettings {
  /** The version of each route's row in force here. */
  private readonly applied = new Map<string, number>();
  private readonly ignored = new Set<string>();
  private propagation: StatePropagation | undefined;
  private readonly outage: OutageLog;

  constructor(private readonly opts: CacheSettingsOptions) {
    this.outage = new OutageLog(opts.logger, 'cache settings');
  }

  private seedOf(operationId: string): string {
    return canonicalJson(this.opts.configured(operationId) ?? null);
  }

  /** Creates the table, puts the stored changes in force, and starts hearing those of other instances. */
  async start(): Promise<void> {
    await this.opts.store.migrate('cache', [
      'CREATE TABLE IF NOT EXISTS ficus_cache_settings (operation_id TEXT PRIMARY KEY, settings TEXT NOT NULL, seed TEXT NOT NULL, version INTEGER NOT NULL, changed_at TEXT NOT NULL, changed_by TEXT NOT NULL)',
    ]);
    await this.refresh();
    this.propagation = new StatePropagation(this.opts.store, this.opts.pollMs, this.opts.logger, (op) => void this.refreshQuietly(op), CACHE_SETTINGS_CHANNEL);
    await this.propagation.start();
  }

  get method(): string {
    return this.propagation?.method ?? 'not started';
  }

  /** Stores a route's new settings (a new version) and tells the other instances; the caller applies them here. */
  async save(operationId: string, config: CacheRouteConfig, actor: string): Promise<number> {
    const version = await this.opts.store.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO ficus_cache_settings (operation_id, settings, seed, version, changed_at, changed_by) VALUES (?, ?, ?, 1, ?, ?)' +
          ' ON CONFLICT (operation_id) DO UPDATE SET settings = excluded.settings, seed = excluded.seed, version = ficus_cache_settings.version + 1, changed_at = excluded.changed_at, changed_by = excluded.changed_by',
        [operationId, JSON.stringify(config), this.seedOf(operationId), new Date().toISOString(), actor],
      );
      const row = await tx.get<{ version: number | string }>('SELECT version FROM ficus_cache_settings WHERE operation_id = ?', [operationId]);
      if (tx.dialect === 'postgres') await tx.get('SELECT pg_notify(?, ?) AS sent', [CACHE_SETTINGS_CHANNEL, operationId]);
      return Number(row?.version ?? 1);
    });
    this.applied.set(operationId, version);
    return version;
  }

  private async refreshQuietly(operationId?: string): Promise<void> {
    try {
      await this.refresh(operationId);
      this.outage.ok();
    } catch (err) {
      if (!this.outage.failed(err)) this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cache settings: could not read the stored changes');
    }
  }

  /** Reads one route's row (or all) and puts in force those newer than what is in force here. */
  async refresh(operationId?: string): Promise<void> {
    const rows =
      operationId === undefined
        ? await this.opts.store.all<SettingsRow>('SELECT * FROM ficus_cache_settings')
        : await this.opts.store.all<SettingsRow>('SELECT * FROM ficus_cache_settings WHERE operation_id = ?', [operationId]);
    for (const r of rows) {
      const version = Number(r.version);
      if (version <= (this.applied.get(r.operation_id) ?? 0)) continue;
      this.applied.set(r.operation_id, version);
      if (r.seed !== this.seedOf(r.operation_id)) {
        if (!this.ignored.has(r.operation_id)) {
          this.ignored.add(r.operation_id);
          this.opts.logger.info(
            { operation: r.operation_id, changedAt: r.changed_at, changedBy: r.changed_by },
            "cache settings changed through the admin API are not applied: ficus.yaml's settings for this route were edited since",
          );
        }
        continue;
      }
      this.opts.apply(r.operation_id, JSON.parse(r.settings) as CacheRouteConfig);
    }
  }

  async close(): Promise<void> {
    await this.propagation?.close();
  }
}
