/**
 * The changes feature: change feeds of legacy systems (`changes:` in their adapter files) publishing
 * CloudEvents through a durable outbox to RabbitMQ and signed webhooks. `gateway.feature<Changes>('changes')`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { ConfigError } from '../config/config-error.ts';
import { zodToConfigErrors } from '../config/zod-errors.ts';
import type { CheckedConfig, Feature, FeatureHost, InstalledFeature } from '../features/feature.ts';
import { DbChangeFeed } from './db-feed.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { EventStore, migrateEvents } from './event-store.ts';
import type { EventsConfig } from './events-config.ts';
import { eventsRouter } from './events-router.ts';
import { dbFeedSchema, type DbFeedConfig } from './feed-config.ts';

export interface Changes {
  config: EventsConfig;
  events: EventStore;
  feeds: Map<string, DbChangeFeed>;
  worker: DeliveryWorker | undefined;
}

/** Every feed of the project, checked: [adapter, feed name, config]. */
export function feedsOf(config: Pick<CheckedConfig, 'adapters'>): { adapter: CheckedConfig['adapters'][number]; name: string; feed: DbFeedConfig }[] {
  const out = [];
  for (const a of config.adapters) {
    for (const [name, raw] of Object.entries(a.changes ?? {})) {
      const r = dbFeedSchema.safeParse(raw);
      if (r.success) out.push({ adapter: a, name, feed: r.data });
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
      if (a.kind.name !== 'db') {
        errors.push(new ConfigError(a.file, key, `change feeds are not yet available for kind ${a.kind.name}`, 'remove changes: from this adapter (db adapters have change feeds)'));
        continue;
      }
      if (names.has(name)) errors.push(new ConfigError(a.file, key, `feed name ${name} is also used in ${names.get(name)}`, 'give each feed a name of its own'));
      names.set(name, a.file);
      const r = dbFeedSchema.safeParse(raw);
      if (!r.success) {
        errors.push(...zodToConfigErrors(r.error, dbFeedSchema, a.file, key));
        continue;
      }
      const f = r.data;
      if (!a.bindings.some((b) => b.operationId === f.operation)) {
        const ops = a.bindings.map((b) => b.operationId).join(', ');
        errors.push(
          new ConfigError(a.file, `${key}.operation`, `${a.name} does not serve ${f.operation}`, `name an operation of this adapter whose mapping makes the event's data: ${ops || '(none)'}`),
        );
      }
      const sql = isAbsolute(f.sql) ? f.sql : join(a.dir, f.sql);
      if (!existsSync(sql))
        errors.push(new ConfigError(a.file, `${key}.sql`, `${relative(config.root, sql)} does not exist`, 'write the SELECT of every row there, or correct the path (relative to the adapter folder)'));
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
  const feeds = new Map<string, DbChangeFeed>();
  for (const f of feedsOf(host.config)) {
    feeds.set(f.name, await DbChangeFeed.create({ name: f.name, adapter: f.adapter, config: f.feed, events, source: `${config.source}/${f.adapter.name}`, logger, onEvents: poke }));
  }
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
  return { api: { config, events, feeds, worker }, adminRouters: [{ prefix: '/events', router: eventsRouter({ events, feeds, onQueued: poke }) }], close };
}
