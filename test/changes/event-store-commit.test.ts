/**
 * A feed's commit writes a page's outbox rows and row hashes in multi-row statements: on SQLite and
 * on PostgreSQL the rows land in order (seq), an event queued twice stays once, a key twice in a
 * page keeps its last hash (PostgreSQL refuses one upsert touching a row twice), and a page larger
 * than a statement's rows (100) is written whole.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudEvent, type CloudEvent } from '../../src/changes/cloud-event.ts';
import { EventStore, migrateEvents } from '../../src/changes/event-store.ts';
import { openStore, type SqlStore } from '../../src/state/sql-store.ts';
import { createTempDatabase } from '../helpers/databases.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function store(engine: 'sqlite' | 'postgres'): Promise<SqlStore> {
  let s: SqlStore;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-commit-'));
    s = await openStore({ driver: 'sqlite', file: join(dir, 'state.db') });
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  } else {
    const db = await createTempDatabase('postgres', 'ficus_commit');
    cleanups.push(db.drop);
    s = await openStore({ driver: 'postgres', url: db.url });
  }
  cleanups.push(() => s.close());
  await migrateEvents(s);
  return s;
}

const event = (key: string, n: number): CloudEvent => cloudEvent({ id: `e-${key}-${n}`, source: '/crm', type: 'customer.updated', subject: key, data: { n }, feed: 'customers' });

describe.each(['sqlite', 'postgres'] as const)('EventStore.commit on %s', (engine) => {
  it('writes a page of 234 events and 234 rows in order, one per id, and each key last hash', async () => {
    const sql = await store(engine);
    const events = new EventStore(sql);
    await events.subscribe({ name: 'a', kind: 'webhook', url: 'http://127.0.0.1:1/a', origin: 'config' });
    await events.subscribe({ name: 'b', kind: 'webhook', url: 'http://127.0.0.1:1/b', types: ['customer.deleted'], origin: 'config' });
    const page = Array.from({ length: 233 }, (_, i) => event(String(1000 + i), 1));
    const sent = [...page];
    sent.splice(6, 0, page[5]); // queued twice (in one statement): stays once
    const rows = page.map((e) => ({ key: e.subject, hash: `h${e.subject}`, version: '1' }));
    rows.splice(4, 0, { key: '1003', hash: 'last', version: '2' }); // a key twice in the page (in one statement)
    await events.commit('customers', { events: sent, rows, watermark: '{"after":[1]}' });
    const queued = await events.list({ limit: 1000 });
    expect(queued.map((d) => d.eventId)).toEqual(page.map((e) => e.id));
    expect(new Set(queued.map((d) => d.subId)).size).toBe(1);
    expect(queued[7].event.json).toBe(JSON.stringify(page[7]));
    expect(queued[7].orderingKey).toBe('customers/1007');
    const hashes = await events.hashes('customers', ['1000', '1003', '1232']);
    expect(Object.fromEntries(hashes)).toEqual({ '1000': 'h1000', '1003': 'last', '1232': 'h1232' });
    expect(await events.watermark('customers')).toBe('{"after":[1]}');
    // The same page again (a crash before the watermark moved on): nothing new queued.
    await events.commit('customers', { events: sent, rows });
    expect((await events.list({ limit: 1000 })).length).toBe(233);
  });
});
