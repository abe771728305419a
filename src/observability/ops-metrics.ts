/**
 * What operators' alerts and dashboards need beyond the request metrics (ops/prometheus,
 * ops/grafana): `ficus_adapter_info{adapter,kind,role}` (which adapters are legacy, for "a legacy
 * adapter is down"), and `ficus_adapter_up` kept current while Prometheus scrapes: each scrape
 * starts the adapters' health checks (at most one round every `HEALTH_EVERY_MS`), so the gauge is
 * never older than a scrape interval plus that, without anyone calling /readyz. Nothing runs between
 * scrapes: a gateway nobody scrapes makes no health calls of its own.
 */
import { Gauge } from 'prom-client';
import type { Feature, InstalledFeature } from '../features/feature.ts';

export const HEALTH_EVERY_MS = 10_000;

export const opsMetricsFeature: Feature<undefined> = {
  name: 'ops-metrics',
  checkConfig: () => [],
  install: (host): Promise<InstalledFeature<undefined>> => {
    let running: Promise<unknown> | undefined;
    let lastAt = 0;
    let closed = false;
    const check = () => {
      if (closed || running || Date.now() - lastAt < HEALTH_EVERY_MS) return;
      lastAt = Date.now();
      running = host
        .readiness()
        .catch((err: unknown) => host.logger.warn({ err }, 'adapter health check failed'))
        .finally(() => (running = undefined));
    };
    const roles = new Map<string, { adapter: string; kind: string; role: string }>();
    for (const route of host.routes.all()) for (const b of [route.legacy, route.modern]) if (b) roles.set(b.adapter, { adapter: b.adapter, kind: b.kind, role: b.backend });
    new Gauge({
      name: 'ficus_adapter_info',
      help: 'One series per adapter, value 1: its kind and its role (legacy or modern)',
      labelNames: ['adapter', 'kind', 'role'],
      registers: [host.metrics.registry],
      aggregator: 'max',
      collect() {
        for (const labels of roles.values()) this.set(labels, 1);
        // (Not awaited: the scrape is not held by a slow adapter; ficus_adapter_up shows the round before.)
        check();
      },
    });
    return Promise.resolve({
      api: undefined,
      close: async () => {
        closed = true;
        await running;
      },
    });
  },
};
