/**
 * Response caching and request coalescing as a feature: its config check (the `cache:` section of
 * ficus.yaml against the contract and the change feeds), one `around` hook on every operation
 * (response-cache.ts), the admin routes under /cache with their changes kept in the state store and
 * put in force on every instance (cache-settings.ts), the change feeds' events dropping the reads they
 * make stale, its part of /readyz, and Redis closed on shutdown.
 */
import type { Changes } from '../changes/install.ts';
import { ConfigError } from '../config/config-error.ts';
import type { CheckedConfig, Feature } from '../features/feature.ts';
import type { CacheConfig } from './cache-config.ts';
import { cacheAdminRouter } from './cache-admin.ts';
import { cacheRouteMistakes } from './cache-checks.ts';
import { CacheSettings } from './cache-settings.ts';
import { ResponseCache } from './response-cache.ts';

function checkConfig(config: CheckedConfig): ConfigError[] {
  const cc = config.gateway.cache as CacheConfig;
  const errors: ConfigError[] = [];
  const ctx = { redis: cc.redis !== undefined, feeds: config.adapters.flatMap((a) => Object.keys(a.changes ?? {})) };
  for (const [op, rc] of Object.entries(cc.routes)) {
    for (const m of cacheRouteMistakes(config.contract, op, rc, ctx)) errors.push(new ConfigError(config.file, `cache.routes.${op}${m.key ? `.${m.key}` : ''}`, m.problem, m.fix));
  }
  if (cc.redis && !/^rediss?:\/\//.test(cc.redis.url)) {
    errors.push(new ConfigError(config.file, 'cache.redis.url', `"${cc.redis.url}" is not a Redis URL`, 'write redis://host:port (or rediss:// for TLS), e.g. redis://127.0.0.1:6379'));
  }
  return errors;
}

/** The response cache: `gateway.feature<ResponseCache>('cache')`. */
export const cacheFeature: Feature<ResponseCache> = {
  name: 'cache',
  checkConfig,
  async install(host) {
    const config = host.config.gateway.cache as CacheConfig;
    const logger = host.logger.child({ component: 'cache' });
    const cache = new ResponseCache({ config, responses: host.responses, routes: host.routes, metrics: host.metrics, logger });
    const settings = new CacheSettings({
      store: host.store,
      pollMs: host.config.gateway.admin.pollMs ?? (host.store.pgPool ? 2_000 : 500),
      logger,
      configured: (op) => config.routes[op],
      apply: (op, rc) => {
        cache.configure(op, rc);
        logger.info({ operation: op, cache: rc }, 'cache settings changed (by another instance, or before a restart) put in force');
      },
    });
    await settings.start();
    // Installed before this feature (src/features/index.ts) when the project has change feeds.
    const changes = host.featureApi<Changes>('changes');
    const stopHearing = changes?.onEvents((feed, events) => {
      cache.changeEvents(feed, events).catch((err: unknown) => logger.warn({ feed, err: err instanceof Error ? err.message : String(err) }, 'cache: dropping the reads a change made stale failed'));
    });
    cache.start();
    const feeds = host.config.adapters.flatMap((a) => Object.keys(a.changes ?? {}));
    return {
      api: cache,
      hooks: [cache.hook()],
      adminRouters: [
        {
          prefix: '/cache',
          router: cacheAdminRouter({ cache, settings, contract: host.config.contract, redis: config.redis !== undefined, feeds, logger: host.logger.child({ component: 'cache-admin' }) }),
        },
      ],
      readiness: () => cache.readiness(),
      close: async () => {
        stopHearing?.();
        await settings.close();
        await cache.close();
      },
    };
  },
};
