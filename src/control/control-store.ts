/**
 * The control plane's tables in the gateway's state store: each route's mode, canary percentage,
 * extra ignore rules and gate pause (one row per route, versioned), the audit log of every change,
 * and the latest shadow mismatches per route. Portable SQL over SQLite and PostgreSQL.
 */
import type { SqlExecutor, SqlStore } from '../state/sql-store.ts';

export const NOTIFY_CHANNEL = 'ficus_route_state';

export interface StoredRouteState {
  operationId: string;
  mode: string;
  percent: number;
  /** Ignore rules added at run time (the config's own come on top). */
  ignore: string[];
  gatesPaused: boolean;
  /** The config's initial state when the row was written from it, e.g. `canary 10%`. */
  seed: string;
  version: number;
  /** When mode or percent last changed (ISO). */
  changedAt: string;
  changedBy: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  automatic: boolean;
  operationId: string;
  /** `mode`, `ignore`, `gates` or `config`. */
  action: string;
  from: string | null;
  to: string | null;
  reason: string;
}

export interface MismatchRecord {
  id: number;
  operationId: string;
  at: string;
  requestId: string;
  request: string;
  legacyStatus: number;
  modernStatus: number;
  differences: { path: string; legacy: unknown; modern: unknown; kind: string; noisy?: boolean }[];
  legacyBody: unknown;
  modernBody: unknown;
  /** The caller's name as the front door knew it (never a credential); absent for an anonymous call. */
  consumer?: string;
}

interface StateRow {
  operation_id: string;
  mode: string;
  percent: number | string;
  ignore_paths: string;
  gates_paused: number | boolean;
  seed: string;
  version: number | string;
  changed_at: string;
  changed_by: string;
}

const id = (dialect: 'sqlite' | 'postgres') => (dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY');
const real = (dialect: 'sqlite' | 'postgres') => (dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION');

function migrations(dialect: 'sqlite' | 'postgres'): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ficus_route_state (operation_id TEXT PRIMARY KEY, mode TEXT NOT NULL, percent ${real(dialect)} NOT NULL, ignore_paths TEXT NOT NULL, gates_paused INTEGER NOT NULL, seed TEXT NOT NULL, version INTEGER NOT NULL, changed_at TEXT NOT NULL, changed_by TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ficus_route_audit (id ${id(dialect)}, at TEXT NOT NULL, actor TEXT NOT NULL, automatic INTEGER NOT NULL, operation_id TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT, to_state TEXT, reason TEXT NOT NULL)`,
    'CREATE INDEX IF NOT EXISTS ficus_route_audit_op ON ficus_route_audit (operation_id, id)',
    `CREATE TABLE IF NOT EXISTS ficus_shadow_mismatch (id ${id(dialect)}, operation_id TEXT NOT NULL, at TEXT NOT NULL, request_id TEXT NOT NULL, request TEXT NOT NULL, legacy_status INTEGER NOT NULL, modern_status INTEGER NOT NULL, differences TEXT NOT NULL, legacy_body TEXT, modern_body TEXT)`,
    'CREATE INDEX IF NOT EXISTS ficus_shadow_mismatch_op ON ficus_shadow_mismatch (operation_id, id)',
    'ALTER TABLE ficus_shadow_mismatch ADD COLUMN consumer TEXT',
  ];
}

function toState(r: StateRow): StoredRouteState {
  return {
    operationId: r.operation_id,
    mode: r.mode,
    percent: Number(r.percent),
    ignore: JSON.parse(r.ignore_paths) as string[],
    gatesPaused: Number(r.gates_paused) === 1 || r.gates_paused === true,
    seed: r.seed,
    version: Number(r.version),
    changedAt: r.changed_at,
    changedBy: r.changed_by,
  };
}

const MAX_BODY = 64 * 1024;
function bodyText(body: unknown): string | null {
  if (body === undefined) return null;
  const text = JSON.stringify(body);
  return text.length > MAX_BODY ? JSON.stringify({ truncated: true, first: text.slice(0, MAX_BODY) }) : text;
}

export class ControlStore {
  constructor(readonly store: SqlStore) {}

  get dialect(): 'sqlite' | 'postgres' {
    return this.store.dialect;
  }

  async migrate(): Promise<void> {
    await this.store.migrate('control', migrations(this.store.dialect));
  }

  async all(): Promise<StoredRouteState[]> {
    return (await this.store.all<StateRow>('SELECT * FROM ficus_route_state')).map(toState);
  }

  async get(operationId: string, x: SqlExecutor = this.store): Promise<StoredRouteState | undefined> {
    const r = await x.get<StateRow>('SELECT * FROM ficus_route_state WHERE operation_id = ?', [operationId]);
    return r ? toState(r) : undefined;
  }

  async insert(s: StoredRouteState, x: SqlExecutor = this.store): Promise<boolean> {
    const sql =
      'INSERT INTO ficus_route_state (operation_id, mode, percent, ignore_paths, gates_paused, seed, version, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)' +
      ' ON CONFLICT (operation_id) DO NOTHING';
    const r = await x.run(sql, [s.operationId, s.mode, s.percent, JSON.stringify(s.ignore), s.gatesPaused ? 1 : 0, s.seed, s.version, s.changedAt, s.changedBy]);
    return r.changes === 1;
  }

  /** Writes a new version of a row, only if it is still at `expectedVersion`. */
  async update(s: StoredRouteState, expectedVersion: number, x: SqlExecutor = this.store): Promise<boolean> {
    const r = await x.run(
      'UPDATE ficus_route_state SET mode = ?, percent = ?, ignore_paths = ?, gates_paused = ?, seed = ?, version = ?, changed_at = ?, changed_by = ? WHERE operation_id = ? AND version = ?',
      [s.mode, s.percent, JSON.stringify(s.ignore), s.gatesPaused ? 1 : 0, s.seed, s.version, s.changedAt, s.changedBy, s.operationId, expectedVersion],
    );
    return r.changes === 1;
  }

  /** Tells the other instances (PostgreSQL; delivered when the transaction commits). */
  async notify(operationId: string, x: SqlExecutor): Promise<void> {
    if (x.dialect === 'postgres') await x.get('SELECT pg_notify(?, ?) AS sent', [NOTIFY_CHANNEL, operationId]);
  }

  async audit(e: Omit<AuditEntry, 'id'>, x: SqlExecutor = this.store): Promise<void> {
    await x.run('INSERT INTO ficus_route_audit (at, actor, automatic, operation_id, action, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      e.at,
      e.actor,
      e.automatic ? 1 : 0,
      e.operationId,
      e.action,
      e.from,
      e.to,
      e.reason,
    ]);
  }

  /**
   * The audit log, newest first. `consumer`: the admin actions on one consumer (its keys, under
   * `consumer:<name>`, and its limits, under `limits:consumer:<name>`).
   */
  async auditLog(opts: { operationId?: string; consumer?: string; limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (opts.operationId) {
      where.push('operation_id = ?');
      params.push(opts.operationId);
    }
    if (opts.consumer) {
      where.push('operation_id IN (?, ?)');
      params.push(`consumer:${opts.consumer}`, `limits:consumer:${opts.consumer}`);
    }
    if (opts.beforeId !== undefined) {
      where.push('id < ?');
      params.push(opts.beforeId);
    }
    const rows = await this.store.all<{
      id: number | string;
      at: string;
      actor: string;
      automatic: number;
      operation_id: string;
      action: string;
      from_state: string | null;
      to_state: string | null;
      reason: string;
    }>(`SELECT * FROM ficus_route_audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${Math.floor(opts.limit)}`, params);
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      actor: r.actor,
      automatic: Number(r.automatic) === 1,
      operationId: r.operation_id,
      action: r.action,
      from: r.from_state,
      to: r.to_state,
      reason: r.reason,
    }));
  }

  /** Saves mismatches in one transaction, then keeps only the latest `keep` of each route they touch. */
  async addMismatches(list: readonly Omit<MismatchRecord, 'id'>[], keep: number): Promise<void> {
    if (list.length === 0) return;
    await this.store.transaction(async (tx) => {
      for (const m of list) {
        await tx.run(
          'INSERT INTO ficus_shadow_mismatch (operation_id, at, request_id, request, legacy_status, modern_status, differences, legacy_body, modern_body, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [m.operationId, m.at, m.requestId, m.request, m.legacyStatus, m.modernStatus, JSON.stringify(m.differences), bodyText(m.legacyBody), bodyText(m.modernBody), m.consumer ?? null],
        );
      }
      for (const op of new Set(list.map((m) => m.operationId))) {
        await tx.run(
          `DELETE FROM ficus_shadow_mismatch WHERE operation_id = ? AND id <= (SELECT id FROM ficus_shadow_mismatch WHERE operation_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${Math.floor(keep)})`,
          [op, op],
        );
      }
    });
  }

  async mismatches(operationId: string, limit: number): Promise<MismatchRecord[]> {
    const rows = await this.store.all<{
      id: number | string;
      operation_id: string;
      at: string;
      request_id: string;
      request: string;
      legacy_status: number;
      modern_status: number;
      differences: string;
      legacy_body: string | null;
      modern_body: string | null;
      consumer: string | null;
    }>(`SELECT * FROM ficus_shadow_mismatch WHERE operation_id = ? ORDER BY id DESC LIMIT ${Math.floor(limit)}`, [operationId]);
    return rows.map((r) => ({
      id: Number(r.id),
      operationId: r.operation_id,
      at: r.at,
      requestId: r.request_id,
      request: r.request,
      legacyStatus: Number(r.legacy_status),
      modernStatus: Number(r.modern_status),
      differences: JSON.parse(r.differences) as MismatchRecord['differences'],
      legacyBody: r.legacy_body === null ? undefined : (JSON.parse(r.legacy_body) as unknown),
      modernBody: r.modern_body === null ? undefined : (JSON.parse(r.modern_body) as unknown),
      ...(r.consumer !== null && r.consumer !== undefined ? { consumer: r.consumer } : {}),
    }));
  }

  async clearMismatches(operationId: string): Promise<void> {
    await this.store.run('DELETE FROM ficus_shadow_mismatch WHERE operation_id = ?', [operationId]);
  }
}
