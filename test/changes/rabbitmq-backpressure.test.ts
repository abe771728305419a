/**
 * A large backlog (a legacy batch job changes 6,000 rows at once; feed pages of 500, delivery
 * batches of 2,000) published to a real RabbitMQ through a proxy that counts the AMQP frames. Both
 * bounds hold, counted, not timed: the feed's undelivered events in the outbox never exceed its
 * `maxBacklog` plus one page (counted in the state store right after each commit), and the messages
 * published and not yet confirmed by the broker never exceed `events.delivery.maxInFlight` (counted
 * on the wire and by the delivery worker). And still every change arrives, each key once.
 */
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Changes } from '../../src/changes/install.ts';
import { CUSTMAST_COLUMNS, legacyCustomerRows, type LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';
import { startAmqpConfirmCounter, type AmqpConfirmCounter } from '../helpers/amqp-confirm-counter.ts';
import { eventually } from '../helpers/wait.ts';
import { legacyCrm, startChangesGateway, stateDir, dropExchange } from './changes-helpers.ts';

const ROWS = 6_000;
const PAGE = 500;
const MAX_BACKLOG = 1_500;
const IN_FLIGHT = 20;
const EXCHANGE = `ficus.test.${randomUUID().slice(0, 8)}`;

function manyRows(n: number): LegacyCustomerRow[] {
  const base = legacyCustomerRows(3000);
  return Array.from({ length: n }, (_, i) => ({
    ...base[i % base.length],
    CUST_NO: 100_001 + i,
    LAST_UPD_DT: 20250101,
    LAST_UPD_TM: 10_000 * Math.floor(i / 3600) + 100 * (Math.floor(i / 60) % 60) + (i % 60),
  }));
}

describe('db change feed → RabbitMQ under a large backlog', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let counter: AmqpConfirmCounter;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;
  let consumer: amqp.ChannelModel;
  const ids = new Set<string>();
  let peakBacklog = 0;
  let stopCounting = () => undefined as void;
  let commits = 0;
  const subjects = new Map<string, number>();

  beforeAll(async () => {
    consumer = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await consumer.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, EXCHANGE, '#');
    await ch.prefetch(500);
    await ch.consume(q.queue, (m) => {
      if (!m) return;
      ids.add(String(m.properties.messageId));
      const subject = String((m.properties.headers as Record<string, unknown>).subject);
      subjects.set(subject, (subjects.get(subject) ?? 0) + 1);
      ch.ack(m);
    });
    crm = await legacyCrm('sqlite', []);
    state = stateDir();
    counter = await startAmqpConfirmCounter(5672);
    counter.hold(); // nothing is delivered until the feed has met its bound (or, without one, read every row)
    gw = await startChangesGateway(
      {
        ...crm.env,
        FICUS_STATE_FILE: state.file,
        AMQP_URL: `amqp://guest:guest@127.0.0.1:${counter.port}`,
        AMQP_EXCHANGE: EXCHANGE,
        FEED_START: 'beginning',
        FEED_OVERLAP: '0',
        FEED_BATCH: String(PAGE),
        FEED_MAX_BACKLOG: String(MAX_BACKLOG),
        EVENTS_BATCH: '2000',
        EVENTS_MAX_IN_FLIGHT: String(IN_FLIGHT),
        EVENTS_TIMEOUT: '30s',
      },
      'ficus-amqp.yaml',
    );
    // Right after each of the feed's commits (the only moments the backlog grows): the undelivered deliveries.
    const outbox = new Database(state.file, { timeout: 0 });
    const count = outbox.prepare(`SELECT COUNT(*) AS n FROM events_outbox WHERE state IN ('pending', 'delivering')`);
    gw.gateway.feature<Changes>('changes')!.onEvents(() => {
      commits++;
      peakBacklog = Math.max(peakBacklog, (count.get() as { n: number }).n);
    });
    stopCounting = () => outbox.close();
    // A legacy batch job changes 6,000 rows at once: the feed's next poll finds them all.
    const legacy = new Database(crm.env.CRM_DB_FILE);
    const insert = legacy.prepare(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES (${CUSTMAST_COLUMNS.map(() => '?').join(', ')})`);
    legacy.transaction(() => manyRows(ROWS).forEach((r) => insert.run(...CUSTMAST_COLUMNS.map((c) => r[c]))))();
    legacy.close();
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    stopCounting();
    await counter?.close();
    await dropExchange(consumer, EXCHANGE);
    await crm?.drop();
    state?.remove();
  });

  it('holds the feed back at maxBacklog, never has more than maxInFlight unconfirmed, and delivers every change', async () => {
    const changes = gw.gateway.feature<Changes>('changes')!;
    const feed = changes.feeds.get('customers')!;
    await eventually(() => (feed.stats.heldBack ?? 0) > 0 || feed.stats.events >= ROWS, 120_000, 'the feed held back (or done)');
    counter.release();
    await eventually(() => ids.size >= ROWS, 240_000, `${ROWS} events consumed`, 100);
    await eventually(async () => ((await changes.events.counts()).pending ?? 0) === 0 && ((await changes.events.counts()).delivering ?? 0) === 0, 60_000, 'the outbox drained');
    // Every row once, under its own key.
    expect(subjects.size).toBe(ROWS);
    expect(feed.stats.events).toBe(ROWS);
    const queued = await changes.events.list({ limit: 2 * ROWS });
    expect(queued.filter((d) => !ids.has(d.eventId))).toEqual([]);
    // The feed's bound: it stopped reading while delivery caught up, and the outbox never held more than the bound and a page.
    expect(commits).toBeGreaterThanOrEqual(ROWS / PAGE);
    expect(peakBacklog).toBeGreaterThan(0);
    expect(peakBacklog).toBeLessThanOrEqual(MAX_BACKLOG + PAGE);
    expect(feed.stats.heldBack).toBeGreaterThan(0);
    // The publisher's bound, counted: on the wire (publishes minus the broker's confirms) and by the worker.
    expect(counter.published).toBeGreaterThanOrEqual(ROWS);
    expect(counter.peakUnconfirmed).toBeGreaterThan(0);
    expect(counter.peakUnconfirmed).toBeLessThanOrEqual(IN_FLIGHT);
    expect(changes.worker!.stats.peakInFlight).toBe(IN_FLIGHT); // the window was used, and never exceeded
  }, 300_000);
});
