/**
 * Calls by consumer on this instance since it started, from `ficus_consumer_requests_total`
 * (known consumers by name, at most 200; `anonymous`; `other`): what the dashboard's "Calls by
 * consumer" table and `GET /consumers/calls` show.
 */
import type { Counter } from 'prom-client';

export interface ConsumerCalls {
  consumer: string;
  calls: number;
  /** Answered 2xx or 3xx. */
  ok: number;
  /** Refused at the door: 401 or 403. */
  denied: number;
  /** Limited: 429. */
  limited: number;
  /** Other 4xx (the caller's mistakes). */
  clientErrors: number;
  /** 5xx, and 499 (the caller left). */
  failed: number;
  /** Calls per operation, most first. */
  operations: { operation: string; calls: number }[];
}

export async function consumerCalls(counter: Counter<'consumer' | 'operation' | 'status'>): Promise<ConsumerCalls[]> {
  const by = new Map<string, ConsumerCalls & { ops: Map<string, number> }>();
  for (const { labels, value } of (await counter.get()).values) {
    const name = String(labels.consumer ?? 'other');
    const status = Number(labels.status);
    let c = by.get(name);
    if (!c) {
      c = { consumer: name, calls: 0, ok: 0, denied: 0, limited: 0, clientErrors: 0, failed: 0, operations: [], ops: new Map() };
      by.set(name, c);
    }
    c.calls += value;
    if (status < 400) c.ok += value;
    else if (status === 401 || status === 403) c.denied += value;
    else if (status === 429) c.limited += value;
    else if (status < 499) c.clientErrors += value;
    else c.failed += value;
    const op = String(labels.operation ?? '');
    c.ops.set(op, (c.ops.get(op) ?? 0) + value);
  }
  return [...by.values()]
    .map(({ ops, ...c }) => ({
      ...c,
      operations: [...ops.entries()].map(([operation, calls]) => ({ operation, calls })).sort((a, b) => b.calls - a.calls || a.operation.localeCompare(b.operation)),
    }))
    .sort((a, b) => b.calls - a.calls || a.consumer.localeCompare(b.consumer));
}
