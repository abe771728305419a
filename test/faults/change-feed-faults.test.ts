/**
 * Change feed under faults: a legacy clerk edits 20 customers 30 times each (600 changes) while the
 * gateway's RabbitMQ connections are cut (through a TCP proxy, not by restarting the machine's
 * RabbitMQ) and the gateway process is SIGKILLed twice mid-stream and started again on the same state
 * store. Every event the feed queued reaches the consumer, every customer's last state arrives, per
 * customer the states arrive in the order they were made, and an event seen twice has the same id
 * and content. Faults are started by progress (events consumed), never by the clock.
 */
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/changes/cloud-event.ts';
import { clerkEdit } from '../../sample/legacy-crm/clerk.ts';
import { legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';
import { CHANGES_FIXTURE, HOOK_SECRET, legacyCrm, stateDir, dropExchange } from '../changes/changes-helpers.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const KEYS = Array.from({ length: 20 }, (_, i) => 1001 + i);
const EDITS_PER_KEY = 30;
const EXCHANGE = `ficus.faults.${randomUUID().slice(0, 8)}`;
const children: ChildProcess[] = [];

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

describe('change feed: RabbitMQ cut and the gateway SIGKILLed mid-stream', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let proxy: TcpProxy;
  let consumer: amqp.ChannelModel;
  const received: CloudEvent[] = [];

  const startGateway = (): Promise<ChildProcess> =>
    new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'start', '--root', CHANGES_FIXTURE, '--config', 'ficus-amqp.yaml', '--port', '0', '--host', '127.0.0.1'], {
        env: {
          ...process.env,
          ...crm.env,
          HOOK_SECRET,
          FICUS_STATE_FILE: state.file,
          FICUS_ADMIN_PORT: '0',
          AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
          AMQP_EXCHANGE: EXCHANGE,
          FEED_POLL: '50ms',
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(proc);
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`the gateway did not start within 60 s: ${out} ${err}`)), 60_000);
      proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (/listening on http/.test(out)) {
          clearTimeout(timer);
          resolve(proc);
        }
      });
      proc.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (${code ?? signal}) before it listened: ${err}`));
      });
    });

  beforeAll(async () => {
    crm = await legacyCrm('sqlite', legacyCustomerRows(100));
    state = stateDir();
    proxy = await startTcpProxy(5672);
    consumer = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await consumer.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, EXCHANGE, '#');
    await ch.consume(q.queue, (m) => {
      if (!m) return;
      received.push(JSON.parse(m.content.toString('utf8')) as CloudEvent);
      ch.ack(m);
    });
  });
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited(c);
      }
    }
    await proxy?.close();
    await dropExchange(consumer, EXCHANGE);
    await crm?.drop();
    state?.remove();
  });

  it('delivers every change, keeps per-key order, and repeats only under the same id', async () => {
    let gw = await startGateway();
    // The feed's baseline (start: now) is taken before the first edit.
    await eventually(() => {
      const db = new Database(state.file, { readonly: true, fileMustExist: true });
      try {
        return db.prepare("SELECT watermark FROM changes_feeds WHERE feed = 'customers'").get() !== undefined;
      } catch {
        return false;
      } finally {
        db.close();
      }
    });
    const start = Date.now();
    let kills = 0;
    let cuts = 0;
    for (let e = 1; e <= EDITS_PER_KEY; e++) {
      for (const k of KEYS) await clerkEdit(crm.target, k, { name: `K${k} E${String(e).padStart(3, '0')}` }, new Date(start + e * 1000));
      if (e % 5 === 0) {
        proxy.reset();
        cuts++;
      }
      if (e === 10 || e === 20) {
        // Kill while it is delivering: wait until something of this stretch arrived, then SIGKILL.
        const seen = received.length;
        await eventually(() => received.length > seen);
        gw.kill('SIGKILL');
        await exited(gw);
        kills++;
        gw = await startGateway();
      }
    }
    expect([kills, cuts]).toEqual([2, 6]);
    const last = `E${String(EDITS_PER_KEY).padStart(3, '0')}`;
    await eventually(() => KEYS.every((k) => received.some((ev) => ev.subject === String(k) && (ev.data as { name: string }).name === `K${k} ${last}`)), 120_000, 'every last state');
    // Everything the feed queued was delivered (read from the state store once the gateway is stopped).
    await eventually(() => {
      const db = new Database(state.file, { readonly: true });
      try {
        const r = db.prepare("SELECT COUNT(*) AS n FROM events_outbox WHERE state IN ('pending', 'delivering')").get() as { n: number };
        return r.n === 0;
      } finally {
        db.close();
      }
    }, 120_000);
    gw.kill('SIGTERM');
    await exited(gw);
    const db = new Database(state.file, { readonly: true });
    const queued = db.prepare('SELECT event_id, state FROM events_outbox').all() as { event_id: string; state: string }[];
    db.close();
    const ids = new Set(received.map((ev) => ev.id));
    expect(queued.filter((q) => q.state !== 'delivered')).toEqual([]);
    expect(queued.filter((q) => !ids.has(q.event_id))).toEqual([]);
    for (const k of KEYS) {
      const names = received.filter((ev) => ev.subject === String(k)).map((ev) => (ev.data as { name: string }).name);
      expect([...names].sort()).toEqual(names);
    }
    const content = new Map<string, string>();
    for (const ev of received) {
      const c = JSON.stringify(ev.data);
      expect(content.get(ev.id) ?? c).toBe(c);
      content.set(ev.id, c);
    }
    // How many came twice (at-least-once across the kills and cuts), for the record.
    console.log(`faults: ${received.length} messages, ${ids.size} distinct events, ${queued.length} queued, ${received.length - ids.size} duplicates`);
  }, 300_000);
});
