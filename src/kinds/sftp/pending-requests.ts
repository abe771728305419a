/**
 * The pending-requests store: the `sftp_requests` table of the state store, one row per order of a
 * request binding (pending, then accepted, rejected or failed), so that pending orders survive a
 * restart and the status resource can be served. Every SQL statement on that table is here.
 */
import type { SqlStore } from '../../state/sql-store.ts';

export interface PendingRow {
  id: string;
  file_id: string;
  operation: string;
  request_hash: string;
  status: string;
  written: number;
  body: string;
}

export const MIGRATIONS = [
  `CREATE TABLE sftp_requests (
     adapter TEXT NOT NULL, id TEXT NOT NULL, file_id TEXT NOT NULL, operation TEXT NOT NULL,
     item_index INTEGER NOT NULL, request_hash TEXT NOT NULL, status TEXT NOT NULL, written INTEGER NOT NULL,
     body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (adapter, id))`,
  'CREATE INDEX sftp_requests_pending ON sftp_requests (adapter, status)',
  'CREATE INDEX sftp_requests_file ON sftp_requests (adapter, file_id)',
];

export class PendingRequests {
  constructor(
    private readonly adapter: string,
    private readonly store: SqlStore,
  ) {}

  /** Creates the table (once per state store). */
  migrate(): Promise<void> {
    return this.store.migrate('sftp', MIGRATIONS);
  }

  /** Whether some order was written and still waits for its reply. */
  async anyWrittenPending(): Promise<boolean> {
    const row = await this.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM sftp_requests WHERE adapter = ? AND status = 'pending' AND written = 1", [this.adapter]);
    return Number(row?.n ?? 0) > 0;
  }

  /** The orders written in one file. */
  ofFile(fileId: string): Promise<Pick<PendingRow, 'id' | 'operation' | 'status'>[]> {
    return this.store.all<PendingRow>('SELECT id, operation, status FROM sftp_requests WHERE adapter = ? AND file_id = ?', [this.adapter, fileId]);
  }

  /** The rows of these ids (those that exist). */
  rowsOf(ids: string[]): Promise<PendingRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.store.all<PendingRow>(`SELECT id, file_id, operation, request_hash, status, written, body FROM sftp_requests WHERE adapter = ? AND id IN (${ids.map(() => '?').join(', ')})`, [
      this.adapter,
      ...ids,
    ]);
  }

  /** The status resource of one id. */
  async body(id: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.store.get<PendingRow>('SELECT body FROM sftp_requests WHERE adapter = ? AND id = ?', [this.adapter, id]);
    return row ? (JSON.parse(row.body) as Record<string, unknown>) : undefined;
  }

  /** Remembers one order, pending and not yet written; an id already known is left as it is. */
  async remember(order: { id: string; fileId: string; operation: string; index: number; requestHash: string; resource: Record<string, unknown>; now: string }): Promise<void> {
    await this.store.run(
      'INSERT INTO sftp_requests (adapter, id, file_id, operation, item_index, request_hash, status, written, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [this.adapter, order.id, order.fileId, order.operation, order.index, order.requestHash, 'pending', 0, JSON.stringify(order.resource), order.now, order.now],
    );
  }

  /** Every order of this file is in the inbound folder. */
  async markWritten(fileId: string): Promise<void> {
    await this.store.run('UPDATE sftp_requests SET written = 1 WHERE adapter = ? AND file_id = ?', [this.adapter, fileId]);
  }

  /**
   * Decides a pending order: its resource gets `extra` and the status. An order decided already is
   * left as it is. False when the id is unknown.
   */
  async decide(id: string, status: string, extra: Record<string, unknown>, now: string): Promise<boolean> {
    const row = await this.store.get<PendingRow>('SELECT body, status FROM sftp_requests WHERE adapter = ? AND id = ?', [this.adapter, id]);
    if (!row) return false;
    if (row.status === 'pending') {
      const body = { ...(JSON.parse(row.body) as Record<string, unknown>), ...extra, status };
      await this.store.run("UPDATE sftp_requests SET status = ?, body = ?, updated_at = ? WHERE adapter = ? AND id = ? AND status = 'pending'", [status, JSON.stringify(body), now, this.adapter, id]);
    }
    return true;
  }
}
