/**
 * The changes feature: change feeds of legacy systems (`changes:` in their adapter files) publishing
 * CloudEvents through a durable outbox to RabbitMQ and signed webhooks. `gateway.feature<Changes>('changes')`.
 * Features installed after it hear each feed's committed events with `onEvents` (the cache drops the
 * reads they make stale).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { ConfigError } from '../config/config-error.ts';
import { zodToConfigErrors } from '../config/zod-errors.ts';
import type { CheckedConfig, Feature, FeatureHost, InstalledFeature } from '../features/feature.ts';
import type { CloudEvent } from './cloud-event.ts';
import type { ChangeFeed } from './change-feed.ts';
import { DbChangeFeed } from './db-feed.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { EventStore, migrateEvents } from './event-store.ts';
import type { EventsConfig } from './events-config.ts';
import { eventsRouter } from './events-router.ts';
import { feedSchemaOf, type DbFeedConfig, type SftpFeedConfig } from './feed-config.ts';
import { SftpChangeFeed } from './sftp-feed.ts';

export interface Changes {
  config: EventsConfig;
  events: EventStore;
  feeds: Map<string, ChangeFeed>;
  worker: DeliveryWorker | undefined;
  /** Hears the events of every feed of this instance once committed to the outbox; returns the way to stop. */
  onEvents(listener: ChangeListener): () => void;
}

export type ChangeListener = (feed: string, events: readonly CloudEvent[]) => void;

type FeedOf = { adapter: CheckedConfig['adapters'][number]; name: string } & ({ kind: 'db'; feed: DbFeedConfig } | { kind: 'sftp'; feed: SftpFeedConfig });

/** Every feed of the project, checked: adapter, feed name, kind and config. */
export function feedsOf(config: Pick<CheckedConfig, 'adapters'>): FeedOf[] {
  const out: FeedOf[] = [];
  for (const a of config.adapters) {
    for (const [name, raw] of Object.entries(a.changes ?? {})) {
      const schema = feedSchemaOf(a.kind.name);
      const r = schema?.safeParse(raw);
      if (r?.success) out.push(a.kind.name === 'db' ? { adapter: a, name, kind: 'db', feed: r.data as DbFeedConfig } : { adapter: a, name, kind: 'sftp', feed: r.data as SftpFeedConfig });
    }
  }
  return out;
}

function checkConfig(config: CheckedConfig): ConfigError[] {
  const errors: ConfigError[] = [];
  const names = new Map<string, string>();
  for (const a of config.adapters) {
    for (const [name, raw] of Object.entries(a.changes ?? {})) {
      const key = `changes.${name}`;
      const schema = feedSchemaOf(a.kind.name);
      if (!schema) {
        errors.push(new ConfigError(a.file, key, `change feeds are not available for kind ${a.kind.name}`, 'remove changes: from this adapter (db and sftp adapters have change feeds)'));
        continue;
      }
      if (names.has(name)) errors.push(new ConfigError(a.file, key, `feed name ${name} is also used in ${names.get(name)}`, 'give each feed a name of its own'));
      names.set(name, a.file);
      const r = schema.safeParse(raw);
      if (!r.success) {
        errors.push(...zodToConfigErrors(r.error, schema, a.file, key));
        continue;
      }
      const f = r.data;
      const binding = a.bindings.find((b) => b.operationId === f.operation);
      if (!binding) {
        const ops = a.bindings.map((b) => b.operationId).join(', ');
        errors.push(
          new ConfigError(a.file, `${key}.operation`, `${a.name} does not serve ${f.operation}`, `name an operation of this adapter whose mapping makes the event's data: ${ops || '(none)'}`),
        );
      } else if (a.kind.name === 'sftp' && !(binding.binding as { read?: unknown }).read) {
        const reads = a.bindings.filter((b) => (b.binding as { read?: unknown }).read).map((b) => b.operationId);
        errors.push(new ConfigError(a.file, `${key}.operation`, `${f.operation} does not read an export (it has no read:)`, `name a read operation of this adapter: ${reads.join(', ') || '(none)'}`));
      }
      if ('sql' in f) {
        const sql = isAbsolute(f.sql) ? f.sql : join(a.dir, f.sql);
        if (!existsSync(sql))
          errors.push(
            new ConfigError(a.file, `${key}.sql`, `${relative(config.root, sql)} does not exist`, 'write the SELECT of every row there, or correct the path (relative to the adapter folder)'),
          );
      }
    }
  }
  return errors;
}

export const changesFeature: Feature<Changes> = { name: 'changes', checkConfig, install };

async function install(host: FeatureHost): Promise<InstalledFeature<Changes>> {
  const config = host.config.gateway.events;
  const logger = host.logger.child({ component: 'changes' });
  await migrateEvents(host.store);
  const events = new EventStore(host.store);
  for (const [name, s] of Object.entries(config.sinks)) {
    if (s.type === 'amqp') await events.subscribe({ name, kind: 'amqp', url: s.url, exchange: s.exchange, types: s.types, origin: 'config' });
    else await events.subscribe({ name, kind: 'webhook', url: s.url, secret: s.secret, types: s.types, origin: 'config' });
  }
  if (host.store.dialect === 'sqlite' && host.startsAlone) await events.releaseAll();
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  // Off in gateways started for a tool (reconcile): only the serving gateway feeds and delivers.
  const active = host.env.FICUS_CHANGES !== 'off';
  const worker = config.delivery.worker && active ? new DeliveryWorker({ events, config: config.delivery, owner, logger }) : undefined;
  const poke = () => worker?.poke();
  const listeners = new Set<ChangeListener>();
  const heard = (feed: string) => (_n: number, committed: readonly CloudEvent[]) => {
    poke();
    for (const l of listeners) {
      try {
        l(feed, committed);
      } catch (err) {
        logger.warn({ feed, err: err instanceof Error ? err.message : String(err) }, 'a listener of change events failed');
      }
    }
  };
  const feeds = new Map<string, ChangeFeed>();
  for (const f of feedsOf(host.config)) {
    const common = { name: f.name, adapter: f.adapter, events, source: `${config.source}/${f.adapter.name}`, logger, onEvents: heard(f.name) };
    feeds.set(f.name, f.kind === 'db' ? await DbChangeFeed.create({ ...common, config: f.feed }) : SftpChangeFeed.create({ ...common, config: f.feed, root: host.config.root }));
  }
  const onEvents = (l: ChangeListener) => {
    listeners.add(l);
    return () => void listeners.delete(l);
  };
  let purge: NodeJS.Timeout | undefined = setInterval(() => {
    events.purgeDelivered(config.delivery.keepDelivered).catch((err: unknown) => logger.warn({ err }, 'could not purge delivered events'));
  }, 60_000);
  purge.unref();
  // Feeds and delivery are singletons: in a cluster only the worker holding the singletons lease runs them.
  if (worker) host.singletons.register('event delivery', { start: () => worker.start(), stop: () => worker.stop(), reclaim: (ownerPrefix) => events.releaseEnded(ownerPrefix) });
  if (active) for (const f of feeds.values()) host.singletons.register(`change feed ${f.name}`, { start: () => f.start(), stop: () => f.stop() });
  const close = async () => {
    clearInterval(purge);
    purge = undefined;
    for (const f of feeds.values()) await f.stop();
    await worker?.stop();
  };
  return { api: { config, events, feeds, worker, onEvents }, adminRouters: [{ prefix: '/events', router: eventsRouter({ events, feeds, onQueued: poke }) }], close };
}
