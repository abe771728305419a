/**
 * Partial success for batch writes: the records of a batch that the legacy system refused are
 * quarantined in the dead-letter queue with their reasons (durably, before the caller is answered),
 * and the answer names them in the `Ficus-Quarantined` header (dead-letter ids, in record order).
 */
import { createHash } from 'node:crypto';
import type { OperationHooks } from '../http/app.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import { PROBLEMS } from '../problem.ts';
import type { Dispatched } from '../routing/dispatch.ts';
import type { Route } from '../routing/route-table.ts';
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.ts';
import { idempotencyKeyOf } from './idempotency-hook.ts';
import { storedRequest } from './outbox-hooks.ts';
import type { WritesConfig } from './writes-config.ts';
import type { WritesMetrics } from './writes-metrics.ts';

export const QUARANTINED_HEADER = 'Ficus-Quarantined';

/** A stable id for record `index` of a batch: the same batch (same key) quarantines under the same ids. */
export function quarantineId(operation: string, batchKey: string, index: number): string {
  return `q-${createHash('sha256').update(`${operation}\n${batchKey}`).digest('hex').slice(0, 24)}-${index}`;
}

export function batchHook(opts: { config: WritesConfig; deadLetters: DeadLetterStore; metrics: WritesMetrics; logger: Logger; idempotencyHeader: string }): OperationHooks {
  // Only batch routes go through it; every other call goes straight on (no async step of its own).
  return {
    around: (route, req, next) => {
      const batch = opts.config.routes[route.operationId]?.batch;
      return batch ? quarantining(route, req, batch, next) : next();
    },
  };

  async function quarantining(route: Route, req: OperationRequest, batch: NonNullable<WritesConfig['routes'][string]['batch']>, next: () => Promise<Dispatched>): Promise<Dispatched> {
    const d = await next();
    const body = d.result.body as Record<string, unknown> | undefined;
    const rejected = body && Array.isArray(body[batch.rejected]) ? (body[batch.rejected] as { index?: unknown; reasons?: unknown }[]) : [];
    if (rejected.length === 0) return d;
    const items = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)[batch.items] : undefined;
    const batchKey = idempotencyKeyOf(route, req, opts.idempotencyHeader) ?? req.requestId;
    const now = Date.now();
    const base = storedRequest(req, route.operation, [opts.idempotencyHeader]);
    const letters: DeadLetter[] = rejected.map((r) => {
      const index = Number(r.index);
      const reasons = Array.isArray(r.reasons) ? r.reasons.map(String) : [String(r.reasons ?? 'rejected')];
      const id = quarantineId(route.operationId, batchKey, index);
      const item = Array.isArray(items) ? (items[index] as unknown) : undefined;
      return {
        id,
        source: 'batch' as const,
        operation: route.operationId,
        idemKey: id,
        request: { ...base, operationId: batch.replayAs ?? route.operationId, method: 'POST', body: item, headers: { ...base.headers, [opts.idempotencyHeader.toLowerCase()]: id } },
        reason: 'quarantined' as const,
        errors: reasons.map((reason) => ({ attempt: 1, at: new Date(now).toISOString(), status: PROBLEMS.unprocessable.status, type: PROBLEMS.unprocessable.type, error: reason })),
        attempts: 1,
        acceptedAt: now,
        deadAt: now,
      };
    });
    await opts.deadLetters.quarantine(letters);
    for (const l of letters) {
      opts.metrics.dlqArrivals.inc({ operation: route.operationId, reason: 'quarantined' });
      opts.logger.warn(
        { deadLetter: l.id, operation: route.operationId, reason: 'quarantined', reasons: l.errors.map((e) => e.error), requestId: req.requestId },
        'batch record quarantined in the dead-letter queue',
      );
    }
    d.result.headers = { ...(d.result.headers ?? {}), [QUARANTINED_HEADER]: letters.map((l) => l.id).join(', ') };
    return d;
  }
}
