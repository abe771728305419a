/**
 * Invalidation by change events: a clerk's edit in the legacy CRM (SQLite), seen by the `customers`
 * db change feed, drops the cached reads declared for it (`invalidatedBy`): the customer's own entry
 * and every page of the list, not the other customers' entries. The config check refuses a feed that
 * does not exist and a key the read does not have.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clerkEdit } from '../../sample/legacy-crm/clerk.ts';
import type { InvalidationEvent, ResponseCache } from '../../src/cache/response-cache.ts';
import { cacheRouteMistakes } from '../../src/cache/cache-checks.ts';
import { cacheRouteSchema } from '../../src/cache/cache-config.ts';
import { Contract } from '../../src/contract/contract.ts';
import { join } from 'node:path';
import { eventually } from '../helpers/wait.ts';
import { admin, CHANGES_FIXTURE, legacyCrm, startChangesGateway, stateDir } from '../changes/changes-helpers.ts';

describe('cached reads dropped by change events (db change feed, SQLite)', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;
  const heard: InvalidationEvent[] = [];

  beforeAll(async () => {
    crm = await legacyCrm('sqlite');
    state = stateDir();
    gw = await startChangesGateway({ ...crm.env, FICUS_STATE_FILE: state.file }, 'ficus-cache.yaml');
    gw.gateway.feature<ResponseCache>('cache').onInvalidated((e) => heard.push(e));
    await eventually(async () => (await admin(gw.adminUrl, '/events/feeds')).body.items[0]?.watermark, undefined, 'the baseline');
  });
  afterAll(async () => {
    await gw?.close();
    await crm?.drop();
    state?.remove();
  });

  const get = async (path: string) => {
    const r = await fetch(`${gw.url}${path}`);
    return { status: r.status, cache: r.headers.get('ficus-cache'), body: (await r.json()) as { name?: string } };
  };

  it("a clerk's edit drops that customer's cached read and the list, and the next read has the edit", async () => {
    expect((await get('/customers/1003')).cache).toBe('miss');
    expect((await get('/customers/1004')).cache).toBe('miss');
    expect((await get('/customers')).cache).toBe('miss');
    expect((await get('/customers/1003')).cache).toBe('hit');
    expect((await get('/customers')).cache).toBe('hit');

    await clerkEdit(crm.target, 1003, { name: 'Cached No More' });
    await eventually(
      () => heard.some((e) => e.cause === 'change-event' && e.operationId === 'getCustomer' && e.tag === 'customerId=1003' && e.dropped === 1),
      undefined,
      "the feed's event dropped customer 1003's entry",
    );
    expect(heard.some((e) => e.cause === 'change-event' && e.operationId === 'listCustomers' && e.tag === undefined)).toBe(true);

    const after = await get('/customers/1003');
    expect(after.cache).toBe('miss');
    expect(after.body.name).toBe('Cached No More');
    expect((await get('/customers')).cache).toBe('miss');
    // Another customer's entry stays.
    expect((await get('/customers/1004')).cache).toBe('hit');
  });

  it('the config check names a feed that does not exist and a key the read does not have', async () => {
    const contract = await Contract.open(join(CHANGES_FIXTURE, 'openapi.yaml'));
    const rc = cacheRouteSchema.parse({ ttl: '1m', invalidatedBy: [{ feed: 'orders', key: 'path.orderId' }] });
    const mistakes = cacheRouteMistakes(contract, 'getCustomer', rc, { redis: false, feeds: ['customers'] });
    expect(mistakes).toEqual([
      expect.objectContaining({ key: 'invalidatedBy[0].feed', problem: 'no change feed is named "orders"', fix: expect.stringContaining('customers') }),
      expect.objectContaining({ key: 'invalidatedBy[0].key', problem: 'getCustomer has no path parameter "orderId"', fix: expect.stringContaining('path.customerId') }),
    ]);
  });
});
