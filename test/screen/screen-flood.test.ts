/**
 * The screen routes under a flood: far more concurrent reads of one operation than the legacy app
 * has pages. Every caller gets an answer (200, or 503 `overloaded` with Retry-After), queueing is
 * not taken for a failing backend (the circuit stays closed), the flooded operation does not take
 * every page from the others, and callers that would not reach a page in time hear so at once.
 *
 * No timing is assumed: the legacy app holds the flooded operation's pages (`setHold`) until the
 * test has seen what it waits for (another operation answered, early answers counted), so the flood
 * outlasts it however slow the machine. Timings: test/bench/screen-flood.bench.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenEstate, type ScreenEstate } from '../fixtures/screen-project.ts';
import { startGateway } from '../helpers/gateway.ts';
import { eventually, within } from '../helpers/wait.ts';
import type { ScreenAdapter } from '../../src/kinds/screen/screen-adapter.ts';

const FLOOD = 400;
const PAGES = 3;
/** Pages one operation may hold: all but one (the default), left to the others. */
const PER_OPERATION = PAGES - 1;
const QUEUE = 100;
/** How long a caller may wait for a page: longer than anything this test waits for, even on a loaded machine. */
const QUEUE_TIMEOUT_MS = 60_000;
/** The flooded operation's inquiry page, as the legacy app sees it. */
const INQUIRY = /^\/account\?no=/;

let estate: ScreenEstate;
let gw: Awaited<ReturnType<typeof startGateway>> | undefined;

interface Answer {
  status: number;
  type?: string;
  detail?: string;
  retryAfter: string | null;
  accountId?: string;
}

const get = async (path: string): Promise<Answer> => {
  const r = await fetch(gw!.url + path);
  const body = (await r.json()) as { type?: string; detail?: string; accountId?: string };
  return { status: r.status, type: body.type, detail: body.detail, retryAfter: r.headers.get('retry-after'), accountId: body.accountId };
};

/** A gateway of its own for each test: the pool's measured page hold times start afresh. */
async function freshGateway(): Promise<ScreenAdapter> {
  gw = await startGateway(estate.dir, estate.env);
  return gw.gateway.adapters.find((a) => a.name === 'billing-ui')!.adapter as ScreenAdapter;
}

/** The flood: FLOOD reads of 200 accounts at once, each answer kept as it comes. */
function flood(): { answers: Answer[]; all: Promise<Answer[]> } {
  const answers: Answer[] = [];
  const all = Promise.all(
    Array.from({ length: FLOOD }, (_, i) =>
      get(`/accounts/A${String(1 + (i % 200)).padStart(6, '0')}`).then((a) => {
        answers.push(a);
        return a;
      }),
    ),
  );
  return { answers, all };
}

const OVERLOADED = 'https://ficus.dev/problems/overloaded';

/** Every answer of a flood is a 200 or a 503 overloaded with Retry-After, and the circuit stayed closed. */
async function expectAnsweredAndClosed(answers: Answer[]): Promise<void> {
  for (const a of answers) {
    if (a.status === 200) continue;
    expect({ status: a.status, type: a.type }).toEqual({ status: 503, type: OVERLOADED });
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
  }
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  const metrics = await (await fetch(`${gw!.url}/metrics`)).text();
  expect(metrics).toMatch(/ficus_circuit_state\{adapter="billing-ui",operation="getAccount"\} 0/);
}

beforeAll(async () => {
  estate = await screenEstate(
    { delayMs: 5 },
    {
      BILLING_UI_PAGES: String(PAGES),
      BILLING_UI_QUEUE: String(QUEUE),
      BILLING_UI_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS),
      // The default retry (one for a safe operation) is on, as in production. The held pages wait
      // for the test, not for the legacy app: their timeouts are past anything the test waits for.
      BILLING_UI_TIMEOUT_MS: '120000',
      BILLING_UI_NAVIGATION_MS: '120000',
      BILLING_UI_ACTION_MS: '120000',
    },
  );
});

afterEach(async () => {
  estate.legacy.setHold(undefined);
  estate.legacy.setDelay(5);
  await gw?.close();
  gw = undefined;
});

afterAll(async () => {
  await estate?.stop();
});

describe('a flood of one screen operation', () => {
  it('leaves a page to another operation: it is served while the flood holds its pages and its callers wait', async () => {
    const adapter = await freshGateway();
    const pool = adapter.pool!;
    estate.legacy.setHold(INQUIRY);
    const f = flood();
    await eventually(() => estate.legacy.stats.held === PER_OPERATION && pool.stats().waiting > 0, 60_000, 'the flood holding its pages, and callers of it waiting');

    // Another operation of the same legacy app, asked while every caller of the flood is stuck.
    const other = await within(get('/accounts?name=zzzz'), 60_000, 'searchAccounts during the flood');
    expect(other.status).toBe(200);
    // It did not queue behind the flood: the flood has not moved meanwhile.
    expect(estate.legacy.stats.held).toBe(PER_OPERATION);
    expect(pool.stats().waiting).toBeGreaterThan(0);
    expect(f.answers.filter((a) => a.status === 200)).toEqual([]);

    estate.legacy.setHold(undefined);
    await expectAnsweredAndClosed(await within(f.all, 120_000, 'the whole flood answered'));
    // And once the flood is over, the operation serves as before.
    const after = await get('/accounts/A000009');
    expect([after.status, after.accountId]).toEqual([200, 'A000009']);
  }, 300_000);

  it('answers at once the callers that would not reach a page within their wait, rather than queueing them to the limit', async () => {
    const adapter = await freshGateway();
    const pool = adapter.pool!;
    // The pages' hold time, measured as they come back: each read takes at least 3 s here, so a
    // caller behind n others would wait about (n + 1) × 3 s ÷ 2 pages: within 60 s, 40 at most.
    estate.legacy.setDelay(3_000);
    const measured = await Promise.all(['A000001', 'A000002', 'A000003'].map((no) => get(`/accounts/${no}`)));
    expect(measured.map((a) => a.status)).toEqual([200, 200, 200]);

    estate.legacy.setHold(INQUIRY);
    const f = flood();
    const early = () => f.answers.filter((a) => a.status === 503 && /would come free in about/.test(a.detail ?? ''));
    // Without the early answer they would wait for the held pages, up to the queue limit.
    await eventually(() => early().length >= 150 && estate.legacy.stats.held === PER_OPERATION, 60_000, '150 early answers while the pages are held');
    expect(pool.stats().waiting).toBeLessThanOrEqual(Math.ceil((QUEUE_TIMEOUT_MS * PER_OPERATION) / 3_000));
    expect(pool.stats().waiting).toBeLessThan(QUEUE);
    expect(f.answers.filter((a) => a.status === 200)).toEqual([]);
    for (const a of early()) expect([a.type, Number(a.retryAfter) >= 1]).toEqual([OVERLOADED, true]);

    estate.legacy.setDelay(5);
    estate.legacy.setHold(undefined);
    await expectAnsweredAndClosed(await within(f.all, 120_000, 'the whole flood answered'));
  }, 300_000);
});
