/**
 * The screen kind runs the conformance suite: Chromium (/usr/bin/chromium) driving a tiny legacy web
 * app on loopback (sign-on, a thing's detail screen, the table of things, a new-thing form) with the
 * flows in test/fixtures/kind-conformance/screen/flows.
 */
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startHttpServer } from '../helpers/gateway.ts';
import { THINGS, kindConformance, type AdapterPlan } from './conformance.ts';

const DIR = fileURLToPath(new URL('../fixtures/kind-conformance/screen/', import.meta.url));
const USER = 'CLERK01';
const PASSWORD = 'conformance-secret';
const evidence = mkdtempSync(`${tmpdir()}/ficus-screen-conformance-`);

function page(res: ServerResponse, body: string, status = 200): void {
  const html = `<!doctype html><html><head><title>THINGS/2000</title></head><body>${body}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const detail = (t: { id: number; name: string }) => `<dl id="thing"><dt>Thing no.</dt><dd>${t.id}</dd><dt>Name</dt><dd>${esc(t.name)}</dd></dl>`;
const loginForm = (error = '') =>
  `<form method="post" action="/login"><input id="userid" name="userid" maxlength="8"><input id="password" name="password" type="password"><button id="signon-button">Sign on</button></form><div id="messages">${error && `<p class="msg error">${error}</p>`}</div>`;

type LegacyApp = Awaited<ReturnType<typeof startHttpServer>> & { writes: number };
let legacy: LegacyApp;
let failing: LegacyApp | undefined;

/** The legacy app; with failWrites, each POST of the new-thing form is counted and its connection cut. */
async function startLegacy(opts: { failWrites?: boolean } = {}): Promise<LegacyApp> {
  const things: { id: number; name: string }[] = THINGS.map((t) => ({ ...t }));
  let writes = 0;
  const server = await startHttpServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/login') {
      if (req.method === 'POST') {
        const form = new URLSearchParams(body);
        if (form.get('userid') !== USER || form.get('password') !== PASSWORD) return page(res, loginForm('Invalid user ID or password.'));
        res.writeHead(303, { location: '/menu', 'set-cookie': 'sid=signed-on; Path=/; HttpOnly' }).end();
        return;
      }
      return page(res, loginForm());
    }
    if (!/(^|;\s*)sid=signed-on/.test(req.headers.cookie ?? '')) {
      res.writeHead(303, { location: '/login' }).end();
      return;
    }
    if (url.pathname === '/menu') return page(res, '<div id="menu"><a href="/things">Things</a></div>');
    if (url.pathname === '/thing') {
      const t = things.find((x) => x.id === Number(url.searchParams.get('id')));
      return page(res, t ? detail(t) : `<div id="messages"><p class="msg error">Thing ${esc(url.searchParams.get('id') ?? '')} not found</p></div>`);
    }
    if (url.pathname === '/things') {
      const rows = things
        .slice(0, 3)
        .map((t) => `<tr><td>${t.id}</td><td>${esc(t.name)}</td></tr>`)
        .join('');
      return page(res, `<table id="things"><thead><tr><th>Thing no.</th><th>Name</th></tr></thead><tbody>${rows}</tbody></table>`);
    }
    if (url.pathname === '/things/new') {
      if (req.method === 'POST') {
        writes++;
        if (opts.failWrites) return req.socket.destroy();
        const t = { id: things.length + 1, name: new URLSearchParams(body).get('name') ?? '' };
        things.push(t);
        return page(res, detail(t));
      }
      return page(res, '<form method="post" action="/things/new"><input id="name" name="name" maxlength="40"><button id="create-button">Create</button></form>');
    }
    page(res, '<p>no such screen</p>', 404);
  });
  return Object.defineProperty(server, 'writes', { get: () => writes }) as LegacyApp;
}

const OUTPUT = { id: { from: 'no', as: 'integer' }, name: 'name' };
const BINDINGS = {
  getThing: { flow: 'flows/get-thing.ts', output: OUTPUT },
  listThings: { flow: 'flows/list-things.ts', output: { items: { each: 'rows', map: OUTPUT }, nextCursor: { const: null } } },
  createThing: { flow: 'flows/create-thing.ts', output: OUTPUT, status: 201 },
};
const plan = (baseUrl: string, password = PASSWORD, warm = true): AdapterPlan => ({
  connection: {
    baseUrl,
    executablePath: '/usr/bin/chromium',
    login: { flow: 'flows/login.ts', username: USER, password },
    pool: { size: 1, warm },
    timeouts: { navigationMs: 3_000, actionMs: 3_000 },
    evidence: { dir: evidence, keep: 0 },
  },
  bindings: BINDINGS,
  dir: DIR,
});

kindConformance({
  kind: 'screen',
  async before() {
    legacy = await startLegacy();
  },
  async after() {
    await legacy.close();
    await failing?.close();
    rmSync(evidence, { recursive: true, force: true });
  },
  live: () => plan(legacy.url),
  // A pool of one page; the browser starts on the first call (one Chromium per adapter is heavy here).
  at: (port) => plan(`http://127.0.0.1:${port}`, PASSWORD, false),
  livePort: () => Number(new URL(legacy.url).port),
  // The sign-on (GET) must work for the write to be tried at all; Chromium itself re-sends a GET after a reset.
  async failingWrites() {
    failing = await startLegacy({ failWrites: true });
    const app = failing;
    return { plan: plan(app.url), writes: () => app.writes };
  },
  refusingCredentials: () => plan(legacy.url, 'not-the-password'),
  badBinding: { operation: 'getThing', binding: { flow: 'flows/no-such-flow.ts', output: OUTPUT }, subKey: 'flow' },
  supports: { getThing: true, listThings: true, createThing: true },
  policy: { timeoutMs: 15_000 },
});
