/**
 * The billing-ui adapter serving the account operations by driving the sample legacy billing app
 * in real headless Chromium: reads, paging, the address form and its validation, not-found screens,
 * an expired legacy session, a page that hangs, and more callers than the pool has pages.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAccounts, type LegacyAccount } from '../../sample/legacy-billing/data.ts';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';

const seed = new Map(seedAccounts().map((a) => [a.accountNo, a]));
const POOL = 2;

function contractAccount(a: LegacyAccount) {
  return {
    accountId: a.accountNo,
    name: a.holder,
    status: a.status.toLowerCase(),
    balance: a.balanceCents / 100,
    currency: a.currency,
    billingAddress: { line1: a.address.line1, ...(a.address.line2 ? { line2: a.address.line2 } : {}), city: a.address.city, postalCode: a.address.postalCode },
    lastPaymentOn: a.lastPaymentOn,
  };
}

let estate: ScreenEstate;
let gw: Awaited<ReturnType<typeof startGateway>>;
let adapter: ScreenAdapter;

const get = async (path: string) => {
  const r = await fetch(gw.url + path);
  return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, any> };
};
const put = async (path: string, body: unknown) => {
  const r = await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, any> };
};

beforeAll(async () => {
  estate = await screenEstate(
    { delayMs: 5 },
    {
      BILLING_UI_PAGES: String(POOL),
      BILLING_UI_PAGES_PER_OPERATION: String(POOL),
      BILLING_UI_QUEUE_TIMEOUT_MS: '60000',
      BILLING_UI_RETRIES: '0',
      BILLING_UI_TIMEOUT_MS: '20000',
      BILLING_UI_NAVIGATION_MS: '2500',
      BILLING_UI_ACTION_MS: '4000',
      BILLING_UI_TRACE: 'true',
    },
  );
  gw = await startGateway(estate.dir, estate.env);
  adapter = gw.gateway.adapters.find((a) => a.name === 'billing-ui')!.adapter as ScreenAdapter;
});

afterAll(async () => {
  await gw?.close();
  await estate?.stop();
});

describe('reads through the legacy screens', () => {
  it('warms up at start: the browser runs and the gateway has signed on before the first caller', () => {
    expect(adapter.pool?.browser?.version).toMatch(/^\d+\./);
    expect(estate.legacy.stats.logins).toBe(1);
  });

  it('getAccount reads the labelled fields of the detail screen and maps them onto the contract', async () => {
    for (const no of ['A000001', 'A000003', 'A000017']) {
      const r = await get(`/accounts/${no}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual(contractAccount(seed.get(no)!));
    }
  });

  it('searchAccounts pages through the result table like a clerk, with hasMore from the Next link', async () => {
    const all = [...seed.values()].filter((a) => a.holder.toUpperCase().includes('HANS'));
    expect(all.length).toBeGreaterThan(20); // three legacy pages of ten
    const pages = [];
    for (let page = 1; page <= 3; page++) {
      const r = await get(`/accounts?name=hans&page=${page}`);
      expect(r.status).toBe(200);
      expect(r.body.page).toBe(page);
      pages.push(r.body);
    }
    expect(pages.map((p) => p.hasMore)).toEqual([true, true, false]);
    expect(pages.flatMap((p) => p.items)).toEqual(all.map((a) => ({ accountId: a.accountNo, name: a.holder, status: a.status.toLowerCase() })));
    const beyond = await get('/accounts?name=hans&page=4');
    expect(beyond.body).toEqual({ items: [], page: 4, hasMore: false });
    const none = await get('/accounts?name=zzzz');
    expect(none.body).toEqual({ items: [], page: 1, hasMore: false });
  });

  it('listAccountInvoices reads every page of the invoice table', async () => {
    const a = seed.get('A000001')!;
    expect(a.invoices.length).toBeGreaterThan(10); // three legacy pages of five
    const r = await get('/accounts/A000001/invoices');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual(a.invoices.map((i) => ({ invoiceNo: i.invoiceNo, issuedOn: i.issuedOn, dueOn: i.dueOn, amount: i.amountCents / 100, status: i.status.toLowerCase() })));
    const empty = [...seed.values()].find((x) => x.invoices.length === 0)!;
    expect((await get(`/accounts/${empty.accountNo}/invoices`)).body).toEqual({ items: [] });
  });

  it('a "not found" message on the screen is a 404 carrying the screen’s words', async () => {
    const r = await get('/accounts/A999999');
    expect(r.status).toBe(404);
    expect(r.body.detail).toBe('Account A999999 not found.');
    expect(r.body.requestId).toBe(r.headers.get('x-request-id'));
    expect((await get('/accounts/A999998/invoices')).status).toBe(404);
    expect((await put('/accounts/A999997/billing-address', { line1: '1 Road', city: 'Oslo', postalCode: '0150' })).status).toBe(404);
  });
});

describe('the address form', () => {
  it('writes through the legacy form and answers with the account as the screen now shows it', async () => {
    const r = await put('/accounts/A000002/billing-address', { line1: '12 Quay Street', line2: 'Floor 3', city: 'Bergen', postalCode: '5003' });
    expect(r.status).toBe(200);
    expect(r.body.billingAddress).toEqual({ line1: '12 Quay Street', line2: 'Floor 3', city: 'Bergen', postalCode: '5003' });
    expect(estate.legacy.accounts.get('A000002')!.address).toEqual({ line1: '12 Quay Street', line2: 'Floor 3', city: 'Bergen', postalCode: '5003' });
    expect((await get('/accounts/A000002')).body.billingAddress).toEqual(r.body.billingAddress);
  });

  it('the legacy app’s validation messages become a 422 in its own words, field by field', async () => {
    const before = estate.legacy.accounts.get('A000004')!.address;
    const r = await put('/accounts/A000004/billing-address', { line1: '1 Road', city: 'Oslo 1', postalCode: '??' });
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([
      { field: 'body.city', message: 'City must not contain digits.' },
      { field: 'body.postalCode', message: 'Postal code "??" is not valid: use 3 to 8 letters, digits, spaces or dashes.' },
    ]);
    expect(r.body.detail).toContain('City must not contain digits.');
    expect(estate.legacy.accounts.get('A000004')!.address).toEqual(before);
    const closed = await put('/accounts/A000017/billing-address', { line1: '1 Road', city: 'Oslo', postalCode: '0150' });
    expect(closed.status).toBe(422);
    expect(closed.body.detail).toBe('Account A000017 is closed; its address cannot be changed.');
  });

  it('refuses values longer than the screen takes with a 422 before the browser is touched', async () => {
    const posts = estate.legacy.stats.hits.get('POST /account/address') ?? 0;
    const pages = adapter.pool!.stats().pagesCreated;
    const requests = [...estate.legacy.stats.hits.values()].reduce((s, n) => s + n, 0);
    // The contract allows 10 characters; the legacy form's postal code field takes 8.
    const r = await put('/accounts/A000005/billing-address', { line1: '1 Road', city: 'Oslo', postalCode: '123456789' });
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([{ field: 'body.postalCode', message: 'the legacy form takes at most 8 characters' }]);
    expect([...estate.legacy.stats.hits.values()].reduce((s, n) => s + n, 0)).toBe(requests);
    expect(estate.legacy.stats.hits.get('POST /account/address') ?? 0).toBe(posts);
    expect(adapter.pool!.stats().pagesCreated).toBe(pages);
    // Past the contract's own limit it is the contract's 400, as everywhere.
    expect((await put('/accounts/A000005/billing-address', { line1: 'x'.repeat(31), city: 'Oslo', postalCode: '0150' })).status).toBe(400);
  });

  it('refuses, naming the field, a value the legacy form would store changed: emoji past its maxlength, a line break, a NUL', async () => {
    const before = estate.legacy.accounts.get('A000007')!.address;
    const posts = estate.legacy.stats.hits.get('POST /account/address') ?? 0;
    // 16 emoji are 16 characters for the contract (maxLength 30) but 32 UTF-16 units for the form's maxlength="30".
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ line1: '😀'.repeat(16), city: 'Oslo', postalCode: '0150' }, 'body.line1', /at most 30 UTF-16 units/],
      [{ line1: '1 Road', line2: 'Floor 3\nBack door', city: 'Oslo', postalCode: '0150' }, 'body.line2', /line break/],
      [{ line1: '1 Road', city: 'Os\u0000lo', postalCode: '0150' }, 'body.city', /NUL/],
    ];
    for (const [body, field, message] of cases) {
      const r = await put('/accounts/A000007/billing-address', body);
      expect(r.status).toBe(422);
      expect(r.body.type).toBe('https://ficus.dev/problems/legacy-refused');
      expect(r.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
    }
    expect(estate.legacy.stats.hits.get('POST /account/address') ?? 0).toBe(posts);
    expect(estate.legacy.accounts.get('A000007')!.address).toEqual(before);
    // 15 emoji fit the form, and are stored as given.
    const ok = await put('/accounts/A000007/billing-address', { line1: '😀'.repeat(15), city: 'Oslo', postalCode: '0150' });
    expect(ok.status).toBe(200);
    expect(estate.legacy.accounts.get('A000007')!.address.line1).toBe('😀'.repeat(15));
  });

  it('types request values into fields as data: selectors, markup and script come back as plain text', async () => {
    const hostile = { line1: `#city'); alert(1); //`, line2: '<script>x()</script>', city: 'text=Save', postalCode: 'A-1' };
    const r = await put('/accounts/A000006/billing-address', hostile);
    expect(r.status).toBe(200);
    expect(r.body.billingAddress).toEqual(hostile);
    expect(estate.legacy.accounts.get('A000006')!.address).toEqual({ line1: hostile.line1, line2: hostile.line2, city: hostile.city, postalCode: 'A-1' });
    const search = await get(`/accounts?name=${encodeURIComponent('#results tr')}`);
    expect(search.body).toEqual({ items: [], page: 1, hasMore: false });
  });
});

describe('the legacy session', () => {
  it('signs on again when the legacy app has ended the session, and the caller never sees it', async () => {
    const logins = estate.legacy.stats.logins;
    estate.legacy.expireSessions();
    const results = await Promise.all(['A000010', 'A000011', 'A000012'].map((no) => get(`/accounts/${no}`)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.body.accountId)).toEqual(['A000010', 'A000011', 'A000012']);
    // Both pages met the sign-on screen; one signed on, the other took over its session.
    expect(estate.legacy.stats.logins).toBe(logins + 1);
  });
});

describe('failures', () => {
  it('a page that hangs is a 504; a screenshot and a trace are saved under the request id', async () => {
    estate.legacy.setHang(/no=A000020/);
    try {
      const r = await fetch(gw.url + '/accounts/A000020', { headers: { 'x-request-id': 'hang-test-1' } });
      const body = (await r.json()) as Record<string, string>;
      expect(r.status).toBe(504);
      expect(body.requestId).toBe('hang-test-1');
      expect(body.detail).toMatch(/did not answer in time/);
    } finally {
      estate.legacy.setHang(undefined);
    }
    const dir = join(estate.dir, 'var/evidence/billing-ui');
    for (const f of ['hang-test-1.png', 'hang-test-1.trace.zip', 'hang-test-1.json']) expect(existsSync(join(dir, f))).toBe(true);
    const note = JSON.parse(readFileSync(join(dir, 'hang-test-1.json'), 'utf8')) as Record<string, string>;
    expect(note).toMatchObject({ requestId: 'hang-test-1', operation: 'getAccount' });
    expect(readFileSync(join(dir, 'hang-test-1.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(gw.logLines.some((l) => l.requestId === 'hang-test-1' && l.status === 504)).toBe(true);
    // The pool goes on serving.
    expect((await get('/accounts/A000021')).status).toBe(200);
  });

  it('more callers than pages: they queue, the legacy app never sees more than the pool size, none is lost', async () => {
    estate.legacy.setDelay(60);
    estate.legacy.stats.maxInFlight = 0;
    try {
      const nos = Array.from({ length: 12 }, (_, i) => `A${String(100 + i).padStart(6, '0')}`);
      const results = await Promise.all(nos.map((no) => get(`/accounts/${no}`)));
      expect(results.map((r) => r.status)).toEqual(nos.map(() => 200));
      expect(results.map((r) => r.body)).toEqual(nos.map((no) => contractAccount(seed.get(no)!)));
      expect(estate.legacy.stats.maxInFlight).toBeLessThanOrEqual(POOL);
      expect(estate.legacy.stats.maxInFlight).toBeGreaterThan(0);
    } finally {
      estate.legacy.setDelay(5);
    }
  });
});
