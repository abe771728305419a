/**
 * `changes:` of an adapter file and `events:` of ficus.yaml are checked with the rest of the config,
 * before anything starts: each mistake names the file, the key, its line and the fix.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigReport } from '../../src/config/load-config.ts';
import { CHANGES_FIXTURE, HOOK_SECRET } from './changes-helpers.ts';

const env = { HOOK_SECRET, FICUS_STATE_FILE: ':memory:', CRM_DB_FILE: '/nonexistent/crm.sqlite' };

describe('change feed config', () => {
  it('the fixture as shipped is valid', async () => {
    const r = await loadConfigReport({ root: CHANGES_FIXTURE, env });
    expect(r.errors.map((e) => e.message)).toEqual([]);
  });

  it('names the adapter file, the key and its line for a bad value in changes:', async () => {
    const r = await loadConfigReport({ root: CHANGES_FIXTURE, env: { ...env, FEED_START: 'sometimes', FEED_POLL: 'fast' } });
    const keys = r.errors.map((e) => `${e.file}:${e.line ?? '?'} ${e.key}`);
    expect(keys).toContain('test/fixtures/changes-gateway/adapters/crm-db/adapter.yaml:43 changes.customers.start');
    expect(keys).toContain('test/fixtures/changes-gateway/adapters/crm-db/adapter.yaml:41 changes.customers.pollInterval');
    expect(r.errors.find((e) => e.key === 'changes.customers.pollInterval')?.problem).toMatch(/duration/);
  });

  it('refuses a webhook sink whose secret is not a Standard Webhooks secret', async () => {
    const r = await loadConfigReport({ root: CHANGES_FIXTURE, env: { ...env, HOOK_SECRET: 'hunter2' } });
    expect(r.errors.map((e) => e.key)).toEqual(['events.sinks.hook.secret']);
    expect(r.errors[0].problem).toContain('whsec_');
  });
});
