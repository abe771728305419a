/**
 * What the legacy CRM application does when a clerk edits a customer: an UPDATE of CUSTMAST in its
 * own forms (a blank-padded name, the change stamped in LAST_UPD_DT / LAST_UPD_TM, UTC). The change
 * feed must see it without anything else in the legacy database changing. Also deletes a customer
 * (a batch job's purge) and writes a row the mapping cannot read (a status code the code table
 * lacks), for the feed's tests and `ficus sample` commands.
 */
import Database from 'better-sqlite3';

export type LegacyTarget = { driver: 'sqlite'; file: string } | { driver: 'postgres'; url: string };

export interface ClerkEdit {
  name?: string;
  email?: string;
  vip?: boolean;
  /** Raw status code (CODETBL CUSTSTAT): 'A ', 'S ', 'C ' or anything else (unreadable). */
  statusCode?: string;
  creditLimit?: number;
  /** Columns written as given (a broken value the legacy application let through, say). */
  raw?: Record<string, string | number>;
}

/** yyyymmdd and hhmmss numbers of a moment (UTC). */
export function legacyStamp(at: Date): { date: number; time: number } {
  return {
    date: at.getUTCFullYear() * 10000 + (at.getUTCMonth() + 1) * 100 + at.getUTCDate(),
    time: at.getUTCHours() * 10000 + at.getUTCMinutes() * 100 + at.getUTCSeconds(),
  };
}

function statements(id: number, edit: ClerkEdit, at: Date | undefined): { sql: string; values: (string | number)[] } {
  const sets: string[] = [];
  const values: (string | number)[] = [];
  if (edit.name !== undefined) {
    sets.push('CUST_NM = ?');
    values.push(edit.name.padEnd(40, ' '));
  }
  if (edit.email !== undefined) {
    sets.push('EMAIL_ADDR = ?');
    values.push(edit.email.padEnd(60, ' '));
  }
  if (edit.vip !== undefined) {
    sets.push('VIP_FLG = ?');
    values.push(edit.vip ? 'Y' : 'N');
  }
  if (edit.statusCode !== undefined) {
    sets.push('STAT_CD = ?');
    values.push(edit.statusCode);
  }
  if (edit.creditLimit !== undefined) {
    sets.push('CR_LMT = ?');
    values.push(Math.round(edit.creditLimit * 100));
  }
  for (const [column, value] of Object.entries(edit.raw ?? {})) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(column)) throw new Error(`not a CUSTMAST column: ${column}`);
    sets.push(`${column} = ?`);
    values.push(value);
  }
  if (at) {
    const s = legacyStamp(at);
    sets.push('LAST_UPD_DT = ?', 'LAST_UPD_TM = ?');
    values.push(s.date, s.time);
  }
  if (sets.length === 0) throw new Error('nothing to change');
  values.push(id);
  return { sql: `UPDATE CUSTMAST SET ${sets.join(', ')} WHERE CUST_NO = ?`, values };
}

async function run(target: LegacyTarget, sql: string, values: (string | number)[]): Promise<number> {
  if (target.driver === 'sqlite') {
    const db = new Database(target.file, { timeout: 5_000 });
    try {
      return db.prepare(sql).run(...values).changes;
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: target.url });
  await c.connect();
  try {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await c.query(text, values)).rowCount ?? 0;
  } finally {
    await c.end();
  }
}

/** Edits customer `id` as the legacy application would, stamped `at` (default now). Returns the rows changed (0: no such customer). */
export function clerkEdit(target: LegacyTarget, id: number, edit: ClerkEdit, at: Date = new Date()): Promise<number> {
  const st = statements(id, edit, at);
  return run(target, st.sql, st.values);
}

/**
 * A change that bypasses the legacy application (a fix-up script run straight on the database): the
 * row changes but its LAST_UPD stamp does not, so only the sweep, reconciliation and shadow see it.
 */
export function unstampedEdit(target: LegacyTarget, id: number, edit: ClerkEdit): Promise<number> {
  const st = statements(id, edit, undefined);
  return run(target, st.sql, st.values);
}

/** Removes customer `id` (a purge job). */
export function purgeCustomer(target: LegacyTarget, id: number): Promise<number> {
  return run(target, 'DELETE FROM CUSTMAST WHERE CUST_NO = ?', [id]);
}
