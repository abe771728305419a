/**
 * `ficus explore` for a screen adapter: signs on with the adapter's own login flow and credentials,
 * then follows the legacy app's links (same origin, by GET only, breadth first, each path once, at
 * most `maxPages`) and lists each page's title, URL and forms. Links that look like signing off
 * are not followed, and nothing is typed or submitted: a form is listed, never sent.
 */
import { chromium } from 'playwright-core';
import { browserArgs, findBrowser } from '../kinds/screen/browser-discovery.ts';
import { loadModule, type LoginFlow } from '../kinds/screen/flow.ts';
import { Screen } from '../kinds/screen/screen.ts';
import { surveyPage, type SurveyForm } from '../scaffold/page-survey.ts';

export interface ScreenConnectionForExplore {
  baseUrl: string;
  executablePath?: string;
  browserArgs: string[];
  login?: { flow: string; username: string; password: string };
}

export interface PageLook {
  url: string;
  title: string;
  forms: { name: string; method: string; action: string; fields: { name: string; type: string; label: string }[] }[];
  tables: { name: string; headers: string[] }[];
}

export interface ScreenLook {
  baseUrl: string;
  signedOn: boolean;
  pages: PageLook[];
  /** Links seen but not followed (past maxPages). */
  notFollowed: number;
}

const SIGN_OFF = /log\s*-?\s*(off|out)|sign\s*-?\s*(off|out)|exit|quit|abmelden/i;

function formLook(f: SurveyForm): PageLook['forms'][number] {
  return { name: f.name, method: f.method, action: f.action, fields: f.fields.map((x) => ({ name: x.name, type: x.type, label: x.label })) };
}

export async function exploreScreen(
  c: ScreenConnectionForExplore,
  adapter: { dir: string },
  env: Readonly<Record<string, string | undefined>>,
  opts: { maxPages?: number; timeoutMs?: number } = {},
): Promise<ScreenLook> {
  const found = findBrowser(c.executablePath, env);
  if (!found.ok) throw new Error(`${found.reason}; ${found.fix}`);
  const maxPages = opts.maxPages ?? 20;
  const timeout = opts.timeoutMs ?? 30_000;
  const base = new URL(c.baseUrl);
  const browser = await chromium.launch({ executablePath: found.path, args: browserArgs(c.browserArgs), headless: true, timeout });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    let signedOn = false;
    let loginPath: string | undefined;
    if (c.login) {
      const login = (await loadModule(adapter.dir, c.login.flow, 'login')) as LoginFlow;
      const screen = new Screen(page, { baseUrl: c.baseUrl, signal: AbortSignal.timeout(timeout * 2) });
      await login.run(screen, { username: c.login.username, password: c.login.password });
      signedOn = true;
      loginPath = screen.screens[0];
    } else {
      await page.goto(base.href, { waitUntil: 'domcontentloaded', timeout });
    }
    const pages: PageLook[] = [];
    const seen = new Set<string>();
    const queue: string[] = [new URL(page.url()).pathname + new URL(page.url()).search];
    const notFollowed = new Set<string>();
    while (queue.length > 0) {
      const next = queue.shift()!;
      const path = new URL(next, base).pathname;
      if (seen.has(path)) continue;
      if (pages.length >= maxPages) {
        notFollowed.add(path);
        continue;
      }
      seen.add(path);
      const url = new URL(next, base);
      if (page.url() !== url.href) await page.goto(url.href, { waitUntil: 'domcontentloaded', timeout });
      const survey = await surveyPage(page);
      pages.push({ url: survey.url, title: survey.title, forms: survey.forms.map(formLook), tables: survey.tables.map((t) => ({ name: t.name, headers: t.headers })) });
      for (const link of survey.links) {
        const target = new URL(link.href, base);
        if (target.origin !== base.origin || seen.has(target.pathname) || target.pathname === loginPath) continue;
        if (SIGN_OFF.test(link.text) || SIGN_OFF.test(target.pathname)) continue;
        queue.push(target.pathname + target.search);
      }
    }
    return { baseUrl: c.baseUrl, signedOn, pages, notFollowed: notFollowed.size };
  } finally {
    await browser.close().catch(() => undefined);
  }
}
