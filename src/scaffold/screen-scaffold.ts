/**
 * `ficus scaffold screen`, the work: opens the page in the system's Chromium (the screen kind's
 * browser discovery; nothing is downloaded), surveys it (page-survey.ts) and writes a flow skeleton
 * per page (flow-skeleton.ts). With `follow`, a headed browser records every page a person opens
 * until they close it; that needs a display.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { browserArgs, findBrowser } from '../kinds/screen/browser-discovery.ts';
import { ScaffoldError } from './scaffold-error.ts';
import { flowSkeleton, type Skeleton } from './flow-skeleton.ts';
import { surveyPage, type PageSurvey } from './page-survey.ts';

export const FLOW_MODULE = fileURLToPath(new URL('../kinds/screen/flow.ts', import.meta.url));

export interface ScreenScaffoldOptions {
  url: string;
  /** Where the flow files go (made if missing). */
  out: string;
  follow?: boolean;
  force?: boolean;
  /** Chromium to use (else FICUS_CHROMIUM, else the system's). */
  executablePath?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Page load bound. */
  timeoutMs?: number;
  /** Told each page as --follow records it. */
  onPage?: (survey: PageSurvey) => void;
  /**
   * For programs and tests that drive the browser themselves: --follow in a headless browser (no
   * display needed), and the page handed over once the first page has opened.
   */
  headless?: boolean;
  onStart?: (page: Page) => void | Promise<void>;
}

export interface ScreenScaffoldResult {
  pages: PageSurvey[];
  files: { path: string; skeleton: Skeleton }[];
}

/** Whether a headed browser can open a window here. */
export function hasDisplay(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export async function launchBrowser(opts: { executablePath?: string; env?: Readonly<Record<string, string | undefined>>; headed?: boolean }): Promise<Browser> {
  const found = findBrowser(opts.executablePath, opts.env ?? process.env);
  if (!found.ok) throw new ScaffoldError(found.reason, found.fix);
  const args = browserArgs([]).filter((a) => !(opts.headed && a === '--headless'));
  return chromium.launch({ executablePath: found.path, args, headless: !opts.headed, timeout: 30_000 });
}

function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ScaffoldError(`--url ${url} is not a URL`, 'give the legacy app’s page, e.g. --url http://billing.example:8083/login');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ScaffoldError(`--url ${url}: only http and https pages`, 'give the legacy app’s page as http(s)://…');
  return u;
}

function writeSkeletons(pages: PageSurvey[], opts: ScreenScaffoldOptions): { path: string; skeleton: Skeleton }[] {
  const out = resolve(opts.out);
  // One skeleton per screen, from its last visit (a search screen shows its results table the second time).
  const byFile = new Map<string, Skeleton>();
  for (const p of pages) {
    const s = flowSkeleton(p, { outDir: out, flowModule: FLOW_MODULE });
    byFile.set(s.file, s);
  }
  const skeletons = [...byFile.values()];
  const clashes = skeletons.map((s) => join(out, s.file)).filter((p) => existsSync(p));
  if (clashes.length > 0 && !opts.force) throw new ScaffoldError(`${clashes.join(', ')} exist${clashes.length === 1 ? 's' : ''}`, 'give --force to write again, or --out <folder> to write elsewhere');
  mkdirSync(out, { recursive: true });
  return skeletons.map((skeleton) => {
    const path = join(out, skeleton.file);
    writeFileSync(path, skeleton.text);
    return { path, skeleton };
  });
}

async function open(page: Page, url: string, timeoutMs: number): Promise<void> {
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  } catch (err) {
    throw new ScaffoldError(`cannot open ${url}: ${(err as Error).message.split('\n')[0]}`, 'check the URL and that the legacy app answers from here');
  }
}

/**
 * Records every page the person opens (after each load, in every tab) until the browser is closed:
 * its last window closed, or the browser ended.
 */
async function follow(browser: Browser, context: BrowserContext, page: Page, opts: ScreenScaffoldOptions): Promise<PageSurvey[]> {
  const pages: PageSurvey[] = [];
  const watch = (p: Page) => {
    p.on('load', () => {
      surveyPage(p).then(
        (s) => {
          pages.push(s);
          opts.onPage?.(s);
        },
        () => undefined, // the page went on (or closed) while it was read: its next load is recorded
      );
    });
    p.once('close', () => {
      if (context.pages().length === 0) void browser.close().catch(() => undefined);
    });
  };
  const closed = new Promise<void>((r) => browser.once('disconnected', () => r()));
  watch(page);
  context.on('page', watch);
  await open(page, opts.url, opts.timeoutMs ?? 30_000);
  await opts.onStart?.(page);
  await closed;
  return pages;
}

export async function scaffoldScreen(opts: ScreenScaffoldOptions): Promise<ScreenScaffoldResult> {
  const url = checkUrl(opts.url);
  const env = opts.env ?? process.env;
  const headed = opts.follow === true && opts.headless !== true;
  if (headed && !hasDisplay(env))
    throw new ScaffoldError(
      '--follow needs a display for the browser window, and there is none here (neither DISPLAY nor WAYLAND_DISPLAY is set)',
      'run it on a desktop, or through ssh -X, or under xvfb-run with a VNC viewer; or leave --follow out to survey the one page headless',
    );
  const browser = await launchBrowser({ executablePath: opts.executablePath, env, headed });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    let pages: PageSurvey[];
    if (opts.follow) pages = await follow(browser, context, page, opts);
    else {
      await open(page, url.href, opts.timeoutMs ?? 30_000);
      pages = [await surveyPage(page)];
    }
    if (pages.length === 0) throw new ScaffoldError('no page was recorded', 'open at least one page before closing the browser');
    return { pages, files: writeSkeletons(pages, opts) };
  } finally {
    await browser.close().catch(() => undefined);
  }
}
