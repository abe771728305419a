/**
 * `ficus events …` and `ficus backfill` against a running gateway's admin API: a webhook subscribed
 * from the terminal gets events signed with the secret printed once; a backfill to it sends every
 * current customer (and, resumable, nothing more when run again; all again, same ids, with --restart);
 * unknown feeds and subscriptions are refused with exit 4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/changes/sinks/webhook-sink.ts';
import { ficus } from '../fixtures/ficus-cli.ts';
import { eventually } from '../helpers/wait.ts';
import { ADMIN_TOKEN, legacyCrm, startChangesGateway, stateDir, webhookReceiver } from './changes-helpers.ts';
import type { Changes } from '../../src/changes/install.ts';

describe('ficus events / ficus backfill', () => {
  let crm: Awaited<ReturnType<typeof legacyCrm>>;
  let state: ReturnType<typeof stateDir>;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let gw: Awaited<ReturnType<typeof startChangesGateway>>;
  let admin: string[];

  beforeAll(async () => {
    crm = await legacyCrm('sqlite', (await import('../../sample/legacy-crm/legacy-rows.ts')).legacyCustomerRows(50));
    state = stateDir();
    hook = await webhookReceiver();
    gw = await startChangesGateway({ ...crm.env, FICUS_STATE_FILE: state.file });
    admin = ['--url', gw.adminUrl, '--token', ADMIN_TOKEN];
    const changes = gw.gateway.feature<Changes>('changes')!;
    await eventually(async () => (await changes.events.watermark('customers')) !== undefined, undefined, 'the baseline');
  });
  afterAll(async () => {
    await gw?.close();
    await hook?.close();
    await crm?.drop();
    state?.remove();
  });

  it('subscribes a webhook, prints its secret once, lists it without the secret', async () => {
    const sub = await ficus('events', 'subscribe', 'modern-customers', `${hook.url}/events`, '--type', 'customer.updated', ...admin);
    expect(sub.code).toBe(0);
    const secret = /secret[^:]*: (whsec_\S+)/.exec(sub.stdout)?.[1];
    expect(secret).toBeDefined();
    const list = await ficus('events', 'list', ...admin);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('modern-customers');
    expect(list.stdout).not.toContain(secret!);
    // The endpoint can check what it gets with that secret.
    const backfill = await ficus('backfill', 'customers', '--to', 'modern-customers', ...admin);
    expect(backfill.code).toBe(0);
    expect(backfill.stdout).toContain('customers: 50 event(s) queued for modern-customers');
    const got = (await eventually(() => (hook.received.filter((r) => r.headers['webhook-id']).length >= 50 ? hook.received : undefined))).filter((r) => r.event.id);
    const first = got.find((r) => r.headers['webhook-id'] === got[0].event.id)!;
    const ts = Number(first.headers['webhook-timestamp']);
    expect(first.headers['webhook-signature']).toBe(signWebhook(secret!, first.event.id, ts, JSON.stringify(first.event)));
    expect(new Set(got.map((r) => r.event.subject)).size).toBe(50);
  });

  it('a finished backfill sends nothing more; --restart sends every row again under the same ids', async () => {
    const before = new Set(hook.received.map((r) => r.event.id));
    expect((await ficus('backfill', 'customers', '--to', 'modern-customers', ...admin)).stdout).toContain('0 event(s) queued');
    const again = await ficus('backfill', 'customers', '--to', 'modern-customers', '--restart', '--rate', '1000', ...admin);
    expect(again.stdout).toContain('50 event(s) queued');
    // Delivered events were kept (keepDelivered), so the same ids are not queued twice for the same subscription.
    const changes = gw.gateway.feature<Changes>('changes')!;
    const ids = (await changes.events.list({ limit: 1000 })).filter((d) => d.event.type === 'customer.updated').map((d) => d.eventId);
    expect(ids.every((id) => before.has(id))).toBe(true);
  });

  it('refuses unknown feeds and subscriptions with exit 4', async () => {
    const r = await ficus('backfill', 'nosuch', ...admin);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no change feed nosuch');
    const u = await ficus('events', 'unsubscribe', 'nosuch', ...admin);
    expect(u.code).toBe(4);
    const ok = await ficus('events', 'unsubscribe', 'modern-customers', ...admin);
    expect(ok.code).toBe(0);
  });
});
