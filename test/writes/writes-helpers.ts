/** Helpers of the writes tests: the writes fixture gateway, HTTP calls; waiting and throwaway PostgreSQL databases come from test/helpers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase, type TempDatabase } from '../helpers/databases.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';

export const WRITES_FIXTURE = join(FIXTURES, 'writes-gateway');

export async function startWritesGateway(env: Record<string, string>, opts: { file?: string; level?: string } = {}) {
  return startGateway(WRITES_FIXTURE, { LOG_LEVEL: 'info', ...env }, { file: opts.file, level: opts.level });
}

export const newOrder = (customerId: number, reference?: string) => ({ customerId, ...(reference ? { reference } : {}), lines: [{ sku: 'HW-1042', quantity: 3 }] });

export async function post(url: string, body: unknown, key?: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}), ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function get(url: string) {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export { eventually } from '../helpers/wait.ts';

export function tempDir(prefix = 'ficus-writes-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { PG_ADMIN_URL } from '../helpers/databases.ts';

/** A new, empty PostgreSQL database on the local server; `drop` removes it. */
export function tempPgDatabase(prefix = 'ficus_writes'): Promise<TempDatabase> {
  return createTempDatabase('postgres', prefix);
}

/** The value of one metric sample in Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{([^}]*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}
