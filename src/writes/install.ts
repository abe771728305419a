/**
 * Plugs the writes feature into a gateway: its tables, the idempotency, queue, status and batch hooks,
 * the delivery worker, the DLQ admin router, the metrics, and the close hook that stops the worker
 * (finishing or handing back what it holds) before the store is closed.
 */
import { mediaNotCarried } from '../config/body-kinds.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../config/config-error.ts';
import type { CheckedConfig, Feature, FeatureHost, InstalledFeature } from '../features/feature.ts';
import { batchHook } from './batch-quarantine.ts';
import { DeadLetterStore, type DeadLetter } from './dead-letter-store.ts';
import { dlqRouter } from './dlq-router.ts';
import { idempotencyHook } from './idempotency-hook.ts';
import { IdempotencyStore } from './idempotency-store.ts';
import { orderingKeyOf, queueHook, statusHook } from './outbox-hooks.ts';
import { OutboxStore, type StoredRequest } from './outbox-store.ts';
import { OutboxWorker } from './outbox-worker.ts';
import { migrateWrites } from './writes-schema.ts';
import { WritesMetrics } from './writes-metrics.ts';
import type { WritesConfig } from './writes-config.ts';

export interface Writes {
  config: WritesConfig;
  owner: string;
  idempotency: IdempotencyStore;
  outbox: OutboxStore;
  deadLetters: DeadLetterStore;
  worker: OutboxWorker | undefined;
  metrics: WritesMetrics;
}

function checkConfig(loaded: CheckedConfig): ConfigError[] {
  const config = loaded.gateway.writes;
  const contract = loaded.contract;
  const file = loaded.file;
  const errors: ConfigError[] = [];
  const ops = contract.operationIds.join(', ');
  for (const [op, r] of Object.entries(config.routes)) {
    const key = `writes.routes.${op}`;
    if (!contract.has(op)) {
      errors.push(new ConfigError(file, key, `operation "${op}" is not in ${loaded.gateway.contract}`, `use an operationId of the contract: ${ops}`));
      continue;
    }
    if (contract.operation(op).safe)
      errors.push(
        new ConfigError(file, key, `${op} is a ${contract.operation(op).method.toUpperCase()}, which writes nothing`, 'list only unsafe operations (POST, PUT, PATCH, DELETE) under writes.routes'),
      );
    const notKept = mediaNotCarried(['json'], op, contract);
    if (notKept.length > 0)
      errors.push(
        new ConfigError(
          file,
          key,
          `${op} declares ${notKept.join(', ')} request bodies, which the outbox cannot keep: it stores a write's JSON body, so a form's encoding, a file or raw bytes would be lost when the write is sent again or later`,
          `take ${op} out of writes.routes, or declare only application/json (or +json) bodies for it in the contract`,
        ),
      );
    if (r.async && !r.status)
      errors.push(
        new ConfigError(
          file,
          `${key}.async`,
          'an asynchronous route needs a status resource for its 202 answers',
          `add ${key}.status: { operation: <a GET operation>, param: <its id path parameter> }`,
        ),
      );
    if (r.status) {
      if (!contract.has(r.status.operation))
        errors.push(new ConfigError(file, `${key}.status.operation`, `operation "${r.status.operation}" is not in the contract`, `use a GET operation of the contract: ${ops}`));
      else if (!contract.operation(r.status.operation).parameters.some((p) => p.in === 'path' && p.name === r.status?.param)) {
        const params = contract
          .operation(r.status.operation)
          .parameters.filter((p) => p.in === 'path')
          .map((p) => p.name);
        errors.push(
          new ConfigError(
            file,
            `${key}.status.param`,
            `"${r.status.param}" is not a path parameter of ${r.status.operation}`,
            `use one of: ${params.join(', ') || '(it has none: pick an operation with an id in its path)'}`,
          ),
        );
      }
    }
    if (r.batch?.replayAs && !contract.has(r.batch.replayAs))
      errors.push(new ConfigError(file, `${key}.batch.replayAs`, `operation "${r.batch.replayAs}" is not in the contract`, `use the operation that writes one item, e.g. one of: ${ops}`));
  }
  return errors;
}

/** The writes feature: `gateway.feature<Writes>('writes')`. */
export const writesFeature: Feature<Writes> = { name: 'writes', checkConfig, install: installWrites };

async function installWrites(gw: FeatureHost): Promise<InstalledFeature<Writes>> {
  const config = gw.config.gateway.writes;
  const store = gw.store;
  await migrateWrites(store);
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const logger = gw.logger.child({ component: 'writes' });
  const deadLetters = new DeadLetterStore(store);
  const outbox = new OutboxStore(store, deadLetters);
  const idempotency = new IdempotencyStore(store, { ttlMs: config.idempotency.ttlSeconds * 1000, leaseMs: config.idempotency.leaseMs, owner });
  if (store.dialect === 'sqlite' && gw.startsAlone) {
    // Alone on the SQLite file (one process, or a cluster's first worker): whatever a previous run left half-done is ours to finish now.
    const [writes, keys] = [await outbox.releaseAll(), await idempotency.releaseAbandoned()];
    if (writes + keys > 0) logger.info({ writes, keys }, 'took back writes and idempotency keys left in flight by the previous run');
  }
  const metrics = new WritesMetrics(gw.metrics, async () => {
    const [o, d] = await Promise.all([outbox.figures(), deadLetters.figures()]);
    const now = Date.now();
    return {
      outboxPending: o.pending,
      outboxOldestPendingSeconds: o.oldest === null ? 0 : (now - o.oldest) / 1000,
      dlqDepth: d.depth,
      dlqOldestSeconds: d.oldest === null ? 0 : (now - d.oldest) / 1000,
    };
  });
  const worker = config.outbox.worker ? new OutboxWorker({ outbox, routes: gw.routes, config: config.outbox, owner, logger, metrics }) : undefined;
  const poke = () => worker?.poke();
  const header = config.idempotency.header;

  // Outermost first: the idempotency hook sees the final answer (202 from the queue, quarantine header from the batch hook).
  const hookOpts = { contract: gw.config.contract, config, outbox, metrics, idempotencyHeader: header, onQueued: poke };
  const hooks = [
    idempotencyHook({ store: idempotency, header, inFlightWaitMs: config.idempotency.inFlightWaitMs, metrics }),
    queueHook(hookOpts),
    statusHook(hookOpts),
    batchHook({ config, deadLetters, metrics, logger, idempotencyHeader: header }),
  ];

  const replayTarget = (d: DeadLetter): { operation: string; request: StoredRequest; orderingKey?: string } | undefined => {
    if (d.source === 'outbox') return { operation: d.operation, request: d.request, orderingKey: orderingKeyOf(config.routes[d.operation]?.orderingKey, d.request) };
    const replayAs = config.routes[d.operation]?.batch?.replayAs;
    if (!replayAs) return undefined;
    return { operation: replayAs, request: { ...d.request, operationId: replayAs }, orderingKey: orderingKeyOf(config.routes[replayAs]?.orderingKey, d.request) };
  };
  const adminRouters = [{ prefix: '/dlq', router: dlqRouter({ deadLetters, outbox, replayTarget, onReplayed: poke }) }];

  let purge: NodeJS.Timeout | undefined = setInterval(() => {
    idempotency.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'could not purge expired idempotency keys'));
  }, 60_000);
  purge.unref();
  const close = async () => {
    clearInterval(purge);
    purge = undefined;
    await worker?.stop(config.outbox.graceMs);
  };
  // Delivery is a singleton: in a cluster only the worker holding the singletons lease delivers.
  gw.singletons.register('outbox delivery', {
    start: () => worker?.start(),
    stop: () => worker?.stop(config.outbox.graceMs),
    // A worker of the cluster died: its writes being delivered and its keys in flight are taken back now.
    reclaim: async (ownerPrefix) => (await outbox.releaseEnded(ownerPrefix)) + (await idempotency.releaseEnded(ownerPrefix)),
  });
  return { api: { config, owner, idempotency, outbox, deadLetters, worker, metrics }, hooks, adminRouters, close };
}
