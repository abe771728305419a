/**
 * Reads one metric of a gateway's registry as values with their labels, its `collect` run as a
 * scrape would: for views (the dashboard) that show what a kind reports only as a gauge (the screen
 * kind's browser pools, the sftp kind's export ages) without reaching into the kind. An unknown
 * metric (no such adapter in this project) reads as no values.
 */
import type { Registry } from 'prom-client';

export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
}

export async function readMetric(registry: Registry, name: string): Promise<MetricValue[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  const got = await metric.get();
  return got.values.map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value }));
}
