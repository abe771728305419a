/**
 * The db change feed end to end over a real gateway: a clerk's edit in the legacy CRM (SQLite)
 * reaches a webhook as a signed CloudEvent mapped to the contract; a row stamped in the past (the
 * legacy clock went backwards) is caught by the overlap; a row the mapping cannot read is
 * quarantined and the feed goes on; the sweep reports a purged customer; an endpoint answering 500
 * gets the same event (same webhook-id) again until it takes it; after the budget it is dead and
 * replayable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clerkEdit, purgeCustomer } from '../../sample/legacy-crm/clerk.ts';
import { ficus } from '../fixtures/ficus-cli.ts';
import { eventually } from '../helpers/wait.ts';
import { admin, legacyCrm, startChangesGateway, stateDir, webhookReceiver } from './changes-helpers.ts';

describe('db change feed → webhooks', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;
  /** Customer 1007 answers 500 until it was called 3 times. */
  let calls7 = 0;

  beforeAll(async () => {
    crm = await legacyCrm('sqlite');
    state = stateDir();
    hook = await webhookReceiver((e) => (e.subject === '1007' && ++calls7 <= 2 ? 500 : 204));
    gw = await startChangesGateway({ ...crm.env, FICUS_STATE_FILE: state.file, HOOK_URL: `${hook.url}/hooks` });
    // The baseline (start: now) is taken before anything is sent.
    await eventually(async () => (await admin(gw.adminUrl, '/events/feeds')).body.items[0]?.watermark, undefined, 'the baseline');
  });
  afterAll(async () => {
    await gw?.close();
    await hook?.close();
    await crm?.drop();
    state?.remove();
  });

  const eventsFor = (subject: string) => hook.received.filter((r) => r.event.subject === subject);

  it('sends a clerk edit as a signed customer.updated CloudEvent whose data is the contract resource', async () => {
    expect(hook.received).toHaveLength(0);
    await clerkEdit(crm.target, 1003, { name: 'Ada Changed', vip: true });
    const [r] = await eventually(() => (eventsFor('1003').length > 0 ? eventsFor('1003') : undefined));
    expect(r.valid).toBe(true);
    expect(r.headers['webhook-id']).toBe(r.event.id);
    expect(r.event).toMatchObject({ specversion: '1.0', type: 'customer.updated', subject: '1003', datacontenttype: 'application/json' });
    const fromApi = await (await fetch(`${gw.url}/customers/1003`)).json();
    expect(r.event.data).toEqual(fromApi);
    expect(r.event.data).toMatchObject({ id: 1003, name: 'Ada Changed', vip: true });
  });

  it('catches a row stamped before the watermark (the legacy clock went backwards) within the overlap', async () => {
    await clerkEdit(crm.target, 1005, { name: 'Later Edit' });
    await eventually(() => eventsFor('1005').length === 1);
    await clerkEdit(crm.target, 1006, { name: 'Stamped In The Past' }, new Date(Date.now() - 10 * 60_000));
    const [r] = await eventually(() => (eventsFor('1006').length > 0 ? eventsFor('1006') : undefined));
    expect(r.event.data).toMatchObject({ id: 1006, name: 'Stamped In The Past' });
  });

  it('quarantines a row the mapping cannot read, with the reason, and goes on', async () => {
    await clerkEdit(crm.target, 1008, { raw: { CRT_DT: 1241399 } }); // month 13
    await clerkEdit(crm.target, 1009, { name: 'After The Bad Row' });
    await eventually(() => eventsFor('1009').length === 1);
    const q = await admin(gw.adminUrl, '/events/quarantine');
    expect(q.body.items).toEqual([expect.objectContaining({ feed: 'customers', key: '1008', reason: expect.stringContaining('createdOn') })]);
    expect(eventsFor('1008')).toHaveLength(0);
  });

  it('retries an endpoint answering 500 with the same webhook-id until it takes the event', async () => {
    await clerkEdit(crm.target, 1007, { email: 'seven@example.org' });
    await eventually(() => calls7 >= 3);
    const seven = eventsFor('1007');
    expect(seven).toHaveLength(3);
    expect(new Set(seven.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(seven.every((r) => r.valid)).toBe(true);
  });

  it('a sweep reports a purged customer as customer.deleted, and an unchanged row not at all', async () => {
    const before = hook.received.length;
    await purgeCustomer(crm.target, 1011);
    const r = await admin(gw.adminUrl, '/events/feeds/customers/sweep', 'POST');
    expect(r.body).toEqual({ queued: 1 });
    const [gone] = await eventually(() => (eventsFor('1011').length > 0 ? eventsFor('1011') : undefined));
    expect(gone.event).toMatchObject({ type: 'customer.deleted', subject: '1011', data: null });
    expect(hook.received.length).toBe(before + 1);
  });

  it('a change that bypassed the stamp (ficus sample drift --legacy) is not seen by polls, and is found by the sweep', async () => {
    const before = eventsFor('1012').length;
    const r = await ficus('sample', 'drift', '1012', '--legacy', '--crm-file', crm.target.driver === 'sqlite' ? crm.target.file : '');
    expect(r.code).toBe(0);
    expect((await admin(gw.adminUrl, '/events/feeds/customers/poll', 'POST')).body).toEqual({ queued: 0 });
    expect((await admin(gw.adminUrl, '/events/feeds/customers/sweep', 'POST')).body).toEqual({ queued: 1 });
    const [drift] = await eventually(() => (eventsFor('1012').length > before ? eventsFor('1012') : undefined));
    const fromApi = (await (await fetch(`${gw.url}/customers/1012`)).json()) as { vip: boolean };
    expect(drift.event.data).toMatchObject({ id: 1012, vip: fromApi.vip });
  });

  it('polling again sends nothing twice: the hashes recognise rows already sent', async () => {
    const before = hook.received.length;
    expect((await admin(gw.adminUrl, '/events/feeds/customers/poll', 'POST')).body).toEqual({ queued: 0 });
    expect(hook.received.length).toBe(before);
  });
});
