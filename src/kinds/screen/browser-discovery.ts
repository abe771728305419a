/**
 * Which browser the screen kind drives: the configured executable, else FICUS_CHROMIUM, else the
 * system's Chromium where distributions put it (Debian: /usr/bin/chromium), else the Chromium that
 * Playwright downloaded (`npx playwright-core install chromium`, which scripts/setup.sh runs where
 * apt-get cannot be used). Nothing is downloaded here.
 * The flags are those a headless browser on a closed network needs (and, as root, no sandbox).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const SYSTEM_BROWSERS: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/snap/bin/chromium',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
];

/** Headless, no network of its own (no updates, sync, QUIC), no GPU, no sandbox when root. */
export const HEADLESS_ARGS: readonly string[] = [
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export type BrowserFound = { ok: true; path: string; how: string } | { ok: false; reason: string; fix: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findBrowser(configured: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): BrowserFound {
  const fix = 'install Chromium (Debian: apt-get install chromium) or set connection.executablePath (or FICUS_CHROMIUM) to a Chromium or Chrome executable';
  if (configured) {
    if (!existsSync(configured)) return { ok: false, reason: `connection.executablePath ${configured} does not exist`, fix };
    if (!executable(configured)) return { ok: false, reason: `connection.executablePath ${configured} is not executable`, fix };
    return { ok: true, path: configured, how: 'connection.executablePath' };
  }
  const fromEnv = env.FICUS_CHROMIUM;
  if (fromEnv) {
    if (!executable(fromEnv)) return { ok: false, reason: `FICUS_CHROMIUM=${fromEnv} is not an executable file`, fix };
    return { ok: true, path: fromEnv, how: 'FICUS_CHROMIUM' };
  }
  for (const path of SYSTEM_BROWSERS) if (executable(path)) return { ok: true, path, how: 'found on this system' };
  const downloaded = playwrightDownload();
  if (downloaded && executable(downloaded)) return { ok: true, path: downloaded, how: "Playwright's download" };
  return { ok: false, reason: `no Chromium found (looked at ${SYSTEM_BROWSERS.join(', ')})`, fix };
}

/** Where `npx playwright-core install chromium` puts its Chromium (whether it is there or not). */
function playwrightDownload(): string | undefined {
  try {
    return chromium.executablePath();
  } catch {
    return undefined; // a platform Playwright has no build for
  }
}

/** Root cannot use Chromium's sandbox; everyone else keeps it. */
export function browserArgs(extra: readonly string[]): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return [...HEADLESS_ARGS, ...(root ? ['--no-sandbox'] : []), ...extra];
}
