/**
 * `ficus scaffold screen` against the sample legacy web app: the login page's form and fields are
 * found with selectors that match exactly one element; the skeleton it writes loads as a login
 * flow and, run as it is, signs on; a signed-in page's skeleton (form and result table) loads as a
 * flow whose selectors match too; --follow without a display says so and exits 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModule, type AnyFlow, type LoginFlow } from '../../src/kinds/screen/flow.ts';
import { Screen } from '../../src/kinds/screen/screen.ts';
import { flowSkeleton } from '../../src/scaffold/flow-skeleton.ts';
import { surveyPage } from '../../src/scaffold/page-survey.ts';
import { FLOW_MODULE, launchBrowser, scaffoldScreen } from '../../src/scaffold/screen-scaffold.ts';
import { startLegacyBilling, SAMPLE_PASSWORD, SAMPLE_USER, type RunningLegacyBilling } from '../../sample/legacy-billing/server.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

let app: RunningLegacyBilling;
let browser: Browser;
const dirs: string[] = [];
beforeAll(async () => {
  app = await startLegacyBilling({ port: 0 });
  browser = await launchBrowser({});
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function outDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ficus-scaffold-screen-'));
  dirs.push(d);
  return join(d, 'adapters', 'legacy-ui', 'flows');
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

async function matchOne(page: Page, selectors: Record<string, string>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [k, s] of Object.entries(selectors)) counts[k] = await page.locator(s).count();
  return counts;
}

describe('ficus scaffold screen', () => {
  it('the login page: its form, fields and button, a login skeleton that loads, matches the page and signs on', async () => {
    const out = outDir();
    const r = await scaffoldScreen({ url: `${app.url}/login`, out });
    expect(r.pages).toHaveLength(1);
    const [form] = r.pages[0].forms;
    expect(form).toMatchObject({ name: 'signon', selector: 'form#signon', method: 'post', action: '/login' });
    expect(form.fields).toEqual([
      { name: 'userid', type: 'text', label: 'User ID', required: false, maxLength: 8, selector: '#userid' },
      { name: 'password', type: 'password', label: 'Password', required: false, maxLength: 20, selector: '#password' },
    ]);
    expect(form.buttons).toEqual([{ text: 'Sign on', selector: '#signon-button' }]);
    expect(r.pages[0].title).toBe('BILLING/2000 - Sign on');

    expect(r.files.map((f) => f.path)).toEqual([join(out, 'login.ts')]);
    const text = readFileSync(join(out, 'login.ts'), 'utf8');
    expect(text).toMatch(/^import \{ defineLogin, selectors \} from '(\.\.\/)+.*src\/kinds\/screen\/flow\.ts';$/m);
    expect(text).toContain('userid: \'#userid\', // form signon: text, "User ID", maxlength 8');
    expect(text).toContain('TODO');

    const login = (await loadModule(out, 'login.ts', 'login')) as LoginFlow;
    const page = await newPage();
    await page.goto(`${app.url}/login`);
    expect(Object.values(await matchOne(page, r.files[0].skeleton.selectors))).toEqual([1, 1, 1]);
    const screen = new Screen(page, { baseUrl: app.url, signal: AbortSignal.timeout(30_000) });
    expect(await login.isLoginScreen(screen)).toBe(true);
    await login.run(screen, { username: SAMPLE_USER, password: SAMPLE_PASSWORD });
    expect(app.stats.logins).toBe(1);
    expect(new URL(page.url()).pathname).toBe('/menu');
    await page.context().close();
  }, 120_000);

  it('a signed-in page: the form and the result table become a typed flow whose selectors match the page', async () => {
    const page = await newPage();
    const screen = new Screen(page, { baseUrl: app.url, signal: AbortSignal.timeout(30_000) });
    const signOn = (await loadModule(join(PROJECT_ROOT, 'adapters', 'billing-ui'), 'flows/login.ts', 'login')) as LoginFlow;
    await signOn.run(screen, { username: SAMPLE_USER, password: SAMPLE_PASSWORD });
    await page.goto(`${app.url}/search?name=SON`);
    const survey = await surveyPage(page);
    expect(survey.tables).toEqual([{ name: 'results', selector: 'table#results', headers: ['Account no.', 'Account holder', 'Status'] }]);
    expect(survey.forms.map((f) => f.name)).toEqual(['search', 'goto']);
    const out = outDir();
    const skeleton = flowSkeleton(survey, { outDir: out, flowModule: FLOW_MODULE });
    expect(skeleton.file).toBe('search.ts');
    expect(skeleton.text).toContain("const results = await screen.readTable(searchPage.results, { accountNo: 'Account no.', accountHolder: 'Account holder', status: 'Status' });");
    expect(skeleton.text).toContain("name: z.string().trim().max(30, 'the screen takes at most 30 characters'),");
    for (const count of Object.values(await matchOne(page, skeleton.selectors))) expect(count).toBe(1);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, skeleton.file), skeleton.text);
    const flow = (await loadModule(out, 'search.ts', 'flow')) as AnyFlow;
    expect(flow.input.parse({ name: ' SMITH ' })).toEqual({ name: 'SMITH' });
    // As written, it types the name, presses Search and reads the table.
    const rows = (await flow.run(screen, flow.input.parse({ name: 'SON' }))) as { results: Record<string, string>[] };
    expect(rows.results.length).toBeGreaterThan(0);
    expect(Object.keys(rows.results[0])).toEqual(['accountNo', 'accountHolder', 'status']);
    await page.context().close();
  }, 120_000);

  it('--follow records every page opened until the browser closes, and writes a skeleton per screen (driven by the test, headless)', async () => {
    const out = outDir();
    const visited: string[] = [];
    const waiting: (() => void)[] = [];
    /** Until the scaffold has recorded `n` pages (each page is surveyed once loaded; a person waits too). */
    const recorded = async (n: number) => {
      while (visited.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
    };
    const r = await scaffoldScreen({
      url: `${app.url}/login`,
      out,
      follow: true,
      headless: true,
      onPage: (p) => {
        visited.push(new URL(p.url).pathname);
        for (const w of waiting.splice(0)) w();
      },
      async onStart(page) {
        // What a person would do in the window: sign on, open the search, search, then close the window.
        await recorded(1);
        await page.fill('#userid', SAMPLE_USER);
        await page.fill('#password', SAMPLE_PASSWORD);
        await page.click('#signon-button');
        await recorded(2);
        await page.click('#menu-search');
        await recorded(3);
        await page.fill('#name', 'SON');
        await page.click('#search-button');
        await recorded(4);
        await page.close();
      },
    });
    expect(visited).toEqual(['/login', '/menu', '/search', '/search']);
    expect(r.files.map((f) => f.skeleton.file)).toEqual(['login.ts', 'menu.ts', 'search.ts']);
    expect(readFileSync(join(out, 'search.ts'), 'utf8')).toContain('screen.readTable(searchPage.results');
    expect((await loadModule(out, 'search.ts', 'flow')) as AnyFlow).toBeDefined();
    expect((await loadModule(out, 'menu.ts', 'flow')) as AnyFlow).toBeDefined();
  }, 120_000);

  it('--follow without a display: says so and exits 2; a page that does not open is exit 2 too', () => {
    const ficus = join(PROJECT_ROOT, 'bin', 'ficus.js');
    const { DISPLAY: _d, WAYLAND_DISPLAY: _w, ...env } = process.env;
    const follow = spawnSync(process.execPath, [ficus, 'scaffold', 'screen', '--url', `${app.url}/login`, '--follow', '--out', outDir()], { encoding: 'utf8', env, timeout: 60_000 });
    expect(follow.status).toBe(2);
    expect(follow.stderr).toContain('--follow needs a display for the browser window, and there is none here (neither DISPLAY nor WAYLAND_DISPLAY is set)');
    const bad = spawnSync(process.execPath, [ficus, 'scaffold', 'screen', '--url', 'ftp://example/x', '--out', outDir()], { encoding: 'utf8', env, timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('only http and https pages');
  }, 120_000);
});
