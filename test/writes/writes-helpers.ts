/** Helpers of the writes tests: the writes fixture gateway, HTTP calls, polling, throwaway PostgreSQL databases. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Gateway } from '../../src/gateway.ts';
import { FIXTURES, memoryLogger } from '../helpers/gateway.ts';

export const WRITES_FIXTURE = join(FIXTURES, 'writes-gateway');

export async function startWritesGateway(env: Record<string, string>, opts: { file?: string; level?: string } = {}) {
  const { logger, lines } = memoryLogger(opts.level ?? 'info');
  const gateway = await Gateway.create({ root: WRITES_FIXTURE, file: opts.file, env: { LOG_LEVEL: 'info', ...env }, logger, processMetrics: false });
  const url = await gateway.listen(0, '127.0.0.1');
  return { gateway, url, logLines: lines, close: (graceMs = 1_000) => gateway.close(graceMs) };
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

/** Polls `fn` until it returns something truthy, or fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, what = 'the condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function tempDir(prefix = 'ficus-writes-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new, empty PostgreSQL database on the local server; `drop` removes it. */
export async function tempPgDatabase(prefix = 'ficus_writes'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
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
