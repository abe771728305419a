/**
 * A browser pool on this machine's Chromium for the tests that drive the pool itself: one page,
 * no periodic probe, no sign-on, a silent log; `overrides` changes any of it.
 */
import { BrowserPool, type PoolOptions } from '../../src/kinds/screen/browser-pool.ts';
import { browserArgs, findBrowser } from '../../src/kinds/screen/browser-discovery.ts';
import { createLogger } from '../../src/observability/logger.ts';

export function testBrowserPool(overrides: Partial<PoolOptions> = {}): BrowserPool {
  const found = findBrowser(undefined);
  if (!found.ok) throw new Error(found.reason);
  return new BrowserPool({
    executablePath: found.path,
    args: browserArgs([]),
    size: 1,
    queueLimit: 1,
    maxUsesPerPage: 100,
    maxFlowsPerBrowser: 0,
    launchTimeoutMs: 30_000,
    actionTimeoutMs: 10_000,
    navigationTimeoutMs: 10_000,
    probeTimeoutMs: 2_000,
    probeIntervalMs: 0,
    trace: false,
    logger: createLogger({ level: 'silent' }),
    session: () => ({ state: undefined, version: 1 }),
    ...overrides,
  });
}
