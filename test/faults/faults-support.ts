/**
 * Support of the fault tests: a project with the shipped mainframe adapter and the writes feature
 * configured for createOrder, a client that retries like a careful caller, and the batch job's
 * control file (the mainframe's own record of what it processed).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeProject } from '../sftp/support.ts';

/** The mainframe project (test/sftp/support.ts) with `writes:` settings for orders and a fast-recovering breaker. */
export function makeWritesProject(opts: { async: boolean; extra?: Record<string, unknown> }): { root: string; dispose(): void } {
  const project = makeProject({
    auth: 'key',
    adapterEdits: (text) => text.replace('role: legacy\n', 'role: legacy\npolicy:\n  timeoutMs: 8000\n  circuitBreaker: { consecutiveFailures: 5, halfOpenAfterMs: 500 }\n'),
  });
  writeFileSync(
    join(project.root, 'ficus.yaml'),
    stringify({
      server: { port: 0, host: '127.0.0.1' },
      log: { level: 'warn' },
      state: { driver: 'sqlite', file: 'var/state.db' },
      admin: { enabled: false },
      writes: {
        outbox: { pollIntervalMs: 50, concurrency: 16, maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 1000, leaseMs: 15000, graceMs: 2000 },
        routes: {
          createOrder: { async: opts.async, status: { operation: 'getOrder', param: 'orderId', idField: 'orderId', rejectionField: 'rejection' } },
        },
      },
      ...opts.extra,
    }),
  );
  return project;
}

export interface ClientOutcome {
  key: string;
  status: number;
  location: string;
  tries: number;
}

/** POSTs an order until the gateway has taken it (201 or 202), retrying with the same key after any failure. */
export async function postWithRetries(url: string | (() => string), key: string, body: unknown, deadline: number, opts: { firstTimeoutMs?: number } = {}): Promise<ClientOutcome> {
  for (let tries = 1; ; tries++) {
    try {
      // `firstTimeoutMs`: the caller gives up on its first try early, as if the answer were lost, and retries.
      const timeoutMs = tries === 1 && opts.firstTimeoutMs !== undefined ? opts.firstTimeoutMs : 20_000;
      const base = typeof url === 'string' ? url : url();
      const res = await fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      if (res.status === 201 || res.status === 202) return { key, status: res.status, location: res.headers.get('location') ?? '', tries };
      if (res.status < 500 && res.status !== 409 && res.status !== 429) throw new Error(`order ${key} refused with ${res.status}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith(`order ${key} refused`)) throw err;
      // the gateway is unreachable (restarting): retry
    }
    if (Date.now() > deadline) throw new Error(`order ${key} not taken after ${tries} tries`);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
  }
}

/** The batch job's control file: one line per order it processed (duplicates are not written twice). */
export function controlFileOrders(mainframeRoot: string): string[] {
  const file = join(mainframeRoot, 'control', 'ORDB100.CTL');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { orderId: string }).orderId);
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
