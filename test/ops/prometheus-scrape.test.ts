/**
 * The alerts and the dashboard read metrics a running Ficus really exports: the sample gateway
 * (`ficus start --sample`: db, sftp, screen and http adapters) is started as a process, called a few
 * times, and scraped by a real Prometheus (installed from Debian's `prometheus` package) with
 * ops/prometheus/ficus-rules.yaml loaded. Every metric a rule uses must turn up in Prometheus, every
 * rule must evaluate without error, and every query of ops/grafana/ficus.json must name metrics the
 * gateway exports and run on Prometheus. Without prometheus installed, the test is skipped and says so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
const RULES_FILE = join(PROJECT_ROOT, 'ops', 'prometheus', 'ficus-rules.yaml');
const DASHBOARD_FILE = join(PROJECT_ROOT, 'ops', 'grafana', 'ficus.json');

/** Metric names (series names, e.g. a histogram's `_count`) a PromQL expression reads. */
function metricsOf(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bficus_[a-z0-9_]+/g)].map((m) => m[0]))];
}

function ruleExprs(): { alert: string; expr: string }[] {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

function dashboardExprs(): { panel: string; expr: string }[] {
  const doc = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return doc.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Stops a process we started, by its pid, and waits for it to exit. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const killer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 20_000);
  await exited;
  clearTimeout(killer);
}

describe.skipIf(!hasPrometheus)(`Prometheus scraping the sample gateway${hasPrometheus ? '' : ' (skipped: prometheus is not installed; apt-get install prometheus)'}`, () => {
  let gateway: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let gatewayUrl = '';
  let promUrl = '';
  let promLog = '';
  let banner = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-prometheus-'));
    // (The sample's own host setting: this machine only, unless HOST says otherwise.)
    const { HOST: _host, ...env } = process.env;
    gateway = spawn(process.execPath, ['bin/ficus.js', 'start', '--sample', '--port', '0'], {
      cwd: PROJECT_ROOT,
      env: { ...env, FICUS_ADMIN_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    gateway.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    gateway.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    gatewayUrl = await eventually(
      () => {
        if (gateway!.exitCode !== null) throw new Error(`the sample gateway exited: ${out}`);
        return /Ficus gateway listening on (http:\/\/[^\s]+)/.exec(out)?.[1];
      },
      120_000,
      'the sample gateway to listen',
      100,
    );
    banner = out;
    // A few calls, so that the per-call series exist (the db, the sftp export, the http adapter).
    for (const path of ['/customers/1001', '/customers?limit=2', '/products?limit=2']) expect((await fetch(`${gatewayUrl}${path}`)).status).toBe(200);

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(gatewayUrl).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${RULES_FILE}']`,
        'scrape_configs:',
        `  - { job_name: ficus, static_configs: [{ targets: ['${target}'] }] }`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prometheus.stdout!.on('data', (c: Buffer) => (promLog += c.toString('utf8')));
    prometheus.stderr!.on('data', (c: Buffer) => (promLog += c.toString('utf8')));
    await eventually(
      async () => {
        if (prometheus!.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
        return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok;
      },
      60_000,
      'Prometheus to be ready',
      200,
    );
  }, 240_000);

  afterAll(async () => {
    await stop(prometheus);
    await stop(gateway);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function promApi<T>(path: string): Promise<T> {
    const res = await fetch(`${promUrl}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`);
    return body.data;
  }

  it('binds the sample to this machine only, and says so in the banner', () => {
    expect(gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(banner).toContain('Bound to 127.0.0.1: this machine only (set HOST or server.host to open it)');
  });

  it('sees every metric the alerting rules use, and evaluates every rule without error', async () => {
    const wanted = [...new Set(ruleExprs().flatMap((r) => metricsOf(r.expr)))].sort();
    expect(wanted.length).toBeGreaterThanOrEqual(9);
    const names = await eventually(
      async () => {
        if (prometheus!.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
        const have = new Set(await promApi<string[]>('/api/v1/label/__name__/values').catch(() => [] as string[]));
        return wanted.every((m) => have.has(m)) ? have : undefined;
      },
      60_000,
      `Prometheus to have scraped ${wanted.join(', ')}`,
      250,
    ).catch(async (err: unknown) => {
      const have = new Set(await promApi<string[]>('/api/v1/label/__name__/values').catch(() => [] as string[]));
      throw new Error(`${String(err)}; missing: ${wanted.filter((m) => !have.has(m)).join(', ')}`);
    });
    expect(wanted.filter((m) => !names.has(m))).toEqual([]);

    const groups = await eventually(
      async () => {
        const data = await promApi<{ groups: { rules: { name: string; health: string; lastError?: string; type: string }[] }[] }>('/api/v1/rules');
        const rules = data.groups.flatMap((g) => g.rules);
        return rules.length === 8 && rules.every((r) => r.health !== 'unknown') ? rules : undefined;
      },
      30_000,
      'every rule to be evaluated',
      250,
    );
    expect(groups.map((r) => [r.name, r.health, r.lastError ?? '']).sort()).toEqual(
      ruleExprs()
        .map((r) => [r.alert, 'ok', ''])
        .sort(),
    );
  });

  it('has a Grafana dashboard whose every query names metrics the gateway exports and runs on Prometheus', async () => {
    const exported = new Set(
      [...(await (await fetch(`${gatewayUrl}/metrics`)).text()).matchAll(/^# TYPE (ficus_[a-z0-9_]+) (\w+)/gm)].flatMap((m) =>
        m[2] === 'histogram' ? [`${m[1]}_bucket`, `${m[1]}_count`, `${m[1]}_sum`] : [m[1]],
      ),
    );
    const queries = dashboardExprs();
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const q of queries) {
      const names = metricsOf(q.expr);
      expect(names.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${q.panel}: ${n} is not a metric the gateway exports`).toBe(true);
      const expr = q.expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*');
      await promApi(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    }
  });
});
