/**
 * Response caching and request coalescing as a feature: its config check (the `cache:` section of
 * ficus.yaml against the contract), one `around` hook on every operation (response-cache.ts), the
 * admin routes under /cache, its part of /readyz, and Redis closed on shutdown.
 */
import { ConfigError } from '../config/config-error.ts';
import type { CheckedConfig, Feature } from '../features/feature.ts';
import type { CacheConfig } from './cache-config.ts';
import { cacheAdminRouter } from './cache-admin.ts';
import { cacheRouteMistakes } from './cache-checks.ts';
import { ResponseCache } from './response-cache.ts';

function checkConfig(config: CheckedConfig): ConfigError[] {
  const cc = config.gateway.cache as CacheConfig;
  const errors: ConfigError[] = [];
  for (const [op, rc] of Object.entries(cc.routes)) {
    for (const m of cacheRouteMistakes(config.contract, op, rc)) errors.push(new ConfigError(config.file, `cache.routes.${op}${m.key ? `.${m.key}` : ''}`, m.problem, m.fix));
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
    const cache = new ResponseCache({
      config: host.config.gateway.cache as CacheConfig,
      contract: host.config.contract,
      routes: host.routes,
      metrics: host.metrics,
      logger: host.logger.child({ component: 'cache' }),
    });
    cache.start();
    return {
      api: cache,
      hooks: [cache.hook()],
      adminRouters: [{ prefix: '/cache', router: cacheAdminRouter(cache, host.config.contract, host.logger.child({ component: 'cache-admin' })) }],
      readiness: () => cache.readiness(),
      close: () => cache.close(),
    };
  },
};
