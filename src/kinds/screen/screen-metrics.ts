/** The browser pools' figures on /metrics: one gauge, read from each pool when scraped. */
import { Gauge, type Registry } from 'prom-client';
import type { PoolStats } from './browser-pool.ts';

type Source = () => PoolStats & { signOns: number };
const sources = new WeakMap<Registry, Map<string, Source>>();

export function registerPoolMetrics(registry: Registry, adapter: string, source: Source): () => void {
  let bySource = sources.get(registry);
  if (!bySource) {
    const map = new Map<string, Source>();
    bySource = map;
    sources.set(registry, map);
    new Gauge({
      name: 'ficus_screen_pool',
      help: 'Browser pool of each screen adapter: launches, crashes, hung_replaced, probes_late, browsers_rotated, pages_created, pages_recycled, pages_busy, pages_idle, waiting, sign_ons',
      labelNames: ['adapter', 'figure'],
      registers: [registry],
      collect() {
        for (const [name, read] of map) {
          const s = read();
          const figures: Record<string, number> = {
            launches: s.launches,
            crashes: s.crashes,
            hung_replaced: s.hungReplaced,
            probes_late: s.probesLate,
            browsers_rotated: s.browsersRotated,
            pages_created: s.pagesCreated,
            pages_recycled: s.pagesRecycled,
            pages_busy: s.pagesBusy,
            pages_idle: s.pagesIdle,
            waiting: s.waiting,
            sign_ons: s.signOns,
          };
          for (const [figure, v] of Object.entries(figures)) this.set({ adapter: name, figure }, v);
        }
      },
    });
  }
  bySource.set(adapter, source);
  return () => bySource.delete(adapter);
}
