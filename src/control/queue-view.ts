/**
 * The dashboard's queue depths, each read from the part that owns the queue: the outbox (pending and
 * the oldest) and the dead-letter queue (count and the newest) from the state store, shared by every
 * instance on PostgreSQL; the recorder's queue and drops, this instance's; the screen kind's browser
 * pools (pages in use, idle, callers waiting), this instance's, from their gauge. A part that is not
 * installed or not used reads as null (or no pools).
 */
import type { FeatureHost } from '../features/feature.ts';
import { readMetric } from '../observability/metric-reader.ts';
import type { Recorder } from '../recording/recorder.ts';
import type { Writes } from '../writes/install.ts';

export interface QueuesView {
  outbox: { pending: number; oldestAt: string | null; oldestAgeSeconds: number | null } | null;
  dlq: {
    count: number;
    oldestAgeSeconds: number | null;
    newest: { id: string; operation: string; reason: string; deadAt: string; ageSeconds: number; error: string | null } | null;
  } | null;
  recorder: { queued: number; queueLimit: number; dropped: number; failedWrites: number; recording: number } | null;
  screenPools: { adapter: string; inUse: number; idle: number; waiting: number }[];
  /** What failed to be read (the state store down): the rest is still shown. */
  errors: string[];
}

const age = (at: number, now: number) => Math.max(0, Math.round((now - at) / 1000));

async function writesQueues(writes: Writes | undefined, now: number): Promise<Pick<QueuesView, 'outbox' | 'dlq'>> {
  if (!writes) return { outbox: null, dlq: null };
  const [o, d, newest] = await Promise.all([writes.outbox.figures(), writes.deadLetters.figures(), writes.deadLetters.newest()]);
  const lastError = newest?.errors[newest.errors.length - 1];
  return {
    outbox: { pending: o.pending, oldestAt: o.oldest === null ? null : new Date(o.oldest).toISOString(), oldestAgeSeconds: o.oldest === null ? null : age(o.oldest, now) },
    dlq: {
      count: d.depth,
      oldestAgeSeconds: d.oldest === null ? null : age(d.oldest, now),
      newest: newest
        ? { id: newest.id, operation: newest.operation, reason: newest.reason, deadAt: new Date(newest.deadAt).toISOString(), ageSeconds: age(newest.deadAt, now), error: lastError?.error ?? null }
        : null,
    },
  };
}

function recorderQueue(recorder: Recorder | undefined): QueuesView['recorder'] {
  if (!recorder) return null;
  const s = recorder.status();
  return { queued: s.queued, queueLimit: s.queueLimit, dropped: s.dropped, failedWrites: s.failedWrites, recording: s.routes.filter((r) => r.sample > 0).length };
}

async function screenPools(host: FeatureHost): Promise<QueuesView['screenPools']> {
  const byAdapter = new Map<string, { adapter: string; inUse: number; idle: number; waiting: number }>();
  for (const v of await readMetric(host.metrics.registry, 'ficus_screen_pool')) {
    const adapter = String(v.labels.adapter);
    const pool = byAdapter.get(adapter) ?? { adapter, inUse: 0, idle: 0, waiting: 0 };
    if (v.labels.figure === 'pages_busy') pool.inUse = v.value;
    else if (v.labels.figure === 'pages_idle') pool.idle = v.value;
    else if (v.labels.figure === 'waiting') pool.waiting = v.value;
    byAdapter.set(adapter, pool);
  }
  return [...byAdapter.values()].sort((a, b) => a.adapter.localeCompare(b.adapter));
}

export async function queuesView(host: FeatureHost, now = Date.now()): Promise<QueuesView> {
  const errors: string[] = [];
  const writes = await writesQueues(host.featureApi<Writes>('writes'), now).catch((err: unknown) => {
    errors.push(`outbox and dead-letter queue: ${err instanceof Error ? err.message : String(err)}`);
    return { outbox: null, dlq: null };
  });
  return { ...writes, recorder: recorderQueue(host.featureApi<Recorder>('recording')), screenPools: await screenPools(host), errors };
}
