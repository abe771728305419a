/**
 * The db change feed delivered to a real RabbitMQ (127.0.0.1:5672) with publisher confirms, through
 * a TCP proxy whose connections the test cuts mid-stream: every event the feed queued reaches the
 * consumer, per key in the order of the legacy changes, and an event seen twice has the same id
 * (and the same content).
 */
import amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/changes/cloud-event.ts';
import type { Changes } from '../../src/changes/install.ts';
import { clerkEdit } from '../../sample/legacy-crm/clerk.ts';
import { startTcpProxy, type TcpProxy } from '../faults/tcp-proxy.ts';
import { eventually } from '../helpers/wait.ts';
import { legacyCrm, startChangesGateway, stateDir, dropExchange } from './changes-helpers.ts';

const EXCHANGE = `ficus.test.${randomUUID().slice(0, 8)}`;

describe('db change feed → RabbitMQ', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let proxy: TcpProxy;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;
  let consumer: amqp.ChannelModel;
  const received: CloudEvent[] = [];

  beforeAll(async () => {
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
    crm = await legacyCrm('sqlite');
    state = stateDir();
    proxy = await startTcpProxy(5672);
    gw = await startChangesGateway({ ...crm.env, FICUS_STATE_FILE: state.file, AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}`, AMQP_EXCHANGE: EXCHANGE, FEED_POLL: '50ms' }, 'ficus-amqp.yaml');
    const changes = gw.gateway.feature<Changes>('changes')!;
    await eventually(async () => (await changes.events.watermark('customers')) !== undefined, undefined, 'the baseline');
  });
  afterAll(async () => {
    await gw?.close();
    await proxy?.close();
    await dropExchange(consumer, EXCHANGE);
    await crm?.drop();
    state?.remove();
  });

  it('delivers every queued change, in order per key, through connection cuts; duplicates carry the same id', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => 1001 + i);
    const start = Date.now();
    let cuts = 0;
    for (let round = 1; round <= 12; round++) {
      for (const k of keys) await clerkEdit(crm.target, k, { name: `K${k} R${String(round).padStart(2, '0')}` }, new Date(start + round * 1000));
      if (round % 4 === 0) {
        proxy.reset(); // RabbitMQ unreachable mid-stream: the confirm channel dies with its connection
        cuts++;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(cuts).toBe(3);
    const changes = gw.gateway.feature<Changes>('changes')!;
    // The last round reached every key.
    await eventually(() => keys.every((k) => received.some((e) => e.subject === String(k) && (e.data as { name: string }).name === `K${k} R12`)));
    await eventually(async () => ((await changes.events.counts()).pending ?? 0) === 0 && ((await changes.events.counts()).delivering ?? 0) === 0);
    const queued = await changes.events.list({ limit: 10_000 });
    const receivedIds = new Set(received.map((e) => e.id));
    expect(queued.length).toBeGreaterThanOrEqual(keys.length * 2);
    expect(queued.filter((d) => !receivedIds.has(d.eventId))).toEqual([]);
    expect(queued.every((d) => d.state === 'delivered')).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(1); // the sink connected again after the cuts
    for (const k of keys) {
      const names = received.filter((e) => e.subject === String(k)).map((e) => (e.data as { name: string }).name);
      expect([...names].sort()).toEqual(names); // R01 < R02 < ...: never an older state after a newer one
    }
    const byId = new Map<string, string>();
    for (const e of received) {
      const content = JSON.stringify(e.data);
      expect(byId.get(e.id) ?? content).toBe(content);
      byId.set(e.id, content);
    }
  });
});
