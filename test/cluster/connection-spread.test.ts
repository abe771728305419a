/**
 * `ficus start --workers 2` spreads kept-alive connections over its workers: the primary accepts
 * each connection and hands it to the worker with the fewest open, without waiting for a worker to
 * acknowledge the one before (src/cluster/connection-balancer.ts). Twenty connections opened at once
 * split evenly, also while one worker is stalled (SIGSTOP) during the burst; a worker started in a
 * dead one's place takes the new connections until it holds as many as the other; on SIGTERM the
 * primary stops accepting first, idle connections are closed at once and a request in flight still
 * gets its answer. Which worker serves a connection is read from /healthz on it.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startUpstream } from '../fixtures/upstream-server.ts';
import { alive, countOf, KeptAliveConnection, openKeptAlive, startCluster, whoServes, type RunningCluster } from '../helpers/cluster.ts';
import { FIXTURES } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let root: string;
let cluster: RunningCluster;
const open: KeptAliveConnection[] = [];

beforeAll(async () => {
  upstream = await startUpstream();
  root = mkdtempSync(join(tmpdir(), 'ficus-spread-'));
  cpSync(join(FIXTURES, 'http-gateway', 'openapi.yaml'), join(root, 'openapi.yaml'));
  cpSync(join(FIXTURES, 'http-gateway', 'adapters'), join(root, 'adapters'), { recursive: true });
  writeFileSync(join(root, 'ficus.yaml'), stringify({ server: { port: 0, host: '127.0.0.1' }, log: { level: 'info' }, state: { driver: 'sqlite', file: 'var/state.db' }, admin: { port: 0 } }));
  // A grace far longer than the test may take: the drain must end because the connections did, not at the limit.
  cluster = await startCluster(['--root', root, '--grace', '600000'], { UPSTREAM_URL: upstream.url, UPSTREAM_TIMEOUT_MS: '600000' }, 2);
}, 120_000);

afterAll(async () => {
  for (const c of open) c.close();
  for (const pid of cluster?.pids ?? []) if (alive(pid)) process.kill(pid, 'SIGCONT');
  if (cluster && cluster.proc.exitCode === null && cluster.proc.signalCode === null) {
    cluster.proc.kill('SIGKILL');
    await cluster.exited;
  }
  for (const pid of cluster?.pids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const release of upstream?.control.held.splice(0) ?? []) release();
  await upstream?.close();
  rmSync(root, { recursive: true, force: true });
});

const share = (pids: number[]) => JSON.stringify(Object.fromEntries(countOf(pids)));

describe('ficus start --workers 2 spreads kept-alive connections', () => {
  it('20 connections opened at once: each worker serves 8 to 12 of them, and keeps them', async () => {
    const { connections, pids } = await openKeptAlive(cluster.url, 20);
    open.push(...connections);
    const counts = countOf(pids);
    expect([...counts.keys()].sort(), `both workers serve (${share(pids)})`).toEqual([...cluster.pids].sort());
    for (const [pid, n] of counts) expect(n, `worker ${pid} serves ${n} of 20 connections (${share(pids)})`).toBeGreaterThanOrEqual(8);
    for (const [pid, n] of counts) expect(n, `worker ${pid} serves ${n} of 20 connections (${share(pids)})`).toBeLessThanOrEqual(12);
    // Kept alive: the same worker answers again on each connection.
    const again = await Promise.all(connections.map((c) => c.whoServes()));
    expect(again.map((s) => s.pid)).toEqual(pids);
  }, 60_000);

  it('20 more while one worker is stalled (SIGSTOP): the primary does not wait for it, each worker gets 10', async () => {
    const [stalled, other] = cluster.pids;
    process.kill(stalled, 'SIGSTOP');
    let answers: Promise<{ pid: number }[]>;
    const answered: number[] = [];
    const connections = Array.from({ length: 20 }, () => new KeptAliveConnection(cluster.url));
    open.push(...connections);
    try {
      answers = Promise.all(
        connections.map((c) =>
          c.whoServes(120_000).then((s) => {
            answered.push(s.pid);
            return s;
          }),
        ),
      );
      // The running worker answers its share; the stalled one's wait for it.
      await eventually(() => answered.length >= 10, 60_000, `the running worker (${other}) to answer 10 connections (answered: ${share(answered)})`);
    } finally {
      process.kill(stalled, 'SIGCONT');
    }
    const pids = (await answers).map((s) => s.pid);
    expect(countOf(pids).get(other), `the running worker's share (${share(pids)})`).toBe(10);
    expect(countOf(pids).get(stalled), `the stalled worker's share (${share(pids)})`).toBe(10);
  }, 150_000);

  it("a worker started in a dead one's place takes the new connections until it holds as many as the other", async () => {
    const [victim, survivor] = cluster.pids;
    const survivors: KeptAliveConnection[] = [];
    for (const c of open) if ((await c.whoServes()).pid === survivor) survivors.push(c);
    expect(survivors).toHaveLength(20);
    process.kill(victim, 'SIGKILL');
    // The primary replaces it; the survivor's connections are kept alive meanwhile (and asked to stay the survivor's).
    const replacement = await eventually(
      async () => {
        await Promise.all(survivors.map(async (c) => expect((await c.whoServes()).pid).toBe(survivor)));
        const { pid } = await whoServes(cluster.url).catch(() => ({ pid: -1 }));
        return pid !== -1 && pid !== survivor && pid !== victim ? pid : undefined;
      },
      90_000,
      'a new worker to serve',
      250,
    );
    cluster.pids = [replacement, survivor];
    // The survivor holds 20 connections, the new worker none (the fresh /healthz calls above closed theirs).
    const { connections, pids } = await openKeptAlive(cluster.url, 20);
    open.push(...connections);
    expect(countOf(pids).get(replacement) ?? 0, `the new worker's share of 20 new connections (${share(pids)})`).toBeGreaterThanOrEqual(16);
  }, 150_000);

  it('SIGTERM: the primary stops accepting, idle connections close at once, a request in flight gets its answer, exit 0', async () => {
    const busy = open[open.length - 1];
    const idle = open.slice(0, -1).filter((c) => c !== busy);
    // Connections of the dead worker are gone already; the others are idle and kept alive.
    const stillOpen = (
      await Promise.all(
        idle.map((c) =>
          c
            .whoServes()
            .then(() => c)
            .catch(() => undefined),
        ),
      )
    ).filter((c) => c !== undefined);
    expect(stillOpen.length).toBeGreaterThanOrEqual(20);
    const inFlight = busy.get('/slow/1', 120_000);
    await eventually(() => upstream.control.held.length === 1, 60_000, 'the slow call to reach the upstream');

    cluster.proc.kill('SIGTERM');
    // New connections are refused while a worker still drains.
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(Number(new URL(cluster.url).port), '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(false);
          });
          s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
        }),
      60_000,
      'the public port to refuse new connections',
    );
    // Idle kept-alive connections are closed at once (not at the grace limit), while the call is still held.
    await Promise.all(stillOpen.map((c) => c.closed));
    expect(upstream.control.held).toHaveLength(1);
    expect(cluster.pids.some(alive)).toBe(true);

    upstream.control.held.shift()!();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ waited: 1 });
    const exit = await cluster.exited;
    expect(exit, cluster.output()).toEqual({ code: 0, signal: null });
    for (const pid of cluster.pids) expect(alive(pid)).toBe(false);
  }, 150_000);
});
