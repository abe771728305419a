/**
 * The sample estate's legacy billing web app: server-rendered HTML, no client script, as a clerk
 * sees it. A login form with session cookies that expire, an account search with a paged result
 * table, an inquiry screen with labelled fields, a paged invoice list, and an address-change form
 * with server-side validation. It answers slowly (configurable), and tests can make a page hang or
 * hold it until released, expire every session, or look at what it was asked.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ACCOUNT_COUNT, legacyDate, legacyMoney, seedAccounts, type LegacyAccount } from './data.ts';
import { esc, frame, type Message } from './html.ts';

export interface LegacyBillingOptions {
  port?: number;
  host?: string;
  /** user id → password; default one clerk, CLERK01 / billing-sample. */
  users?: Record<string, string>;
  /** Idle time after which a session expires (default 10 minutes). */
  sessionTtlMs?: number;
  /** Added to every signed-in page: a base and a random extra up to `jitterMs` (default 0 / 0). */
  delayMs?: number;
  jitterMs?: number;
  searchPageSize?: number;
  invoicePageSize?: number;
}

export interface LegacyBillingStats {
  logins: number;
  failedLogins: number;
  /** Signed-in page requests being served now, and the most ever at once. */
  inFlight: number;
  maxInFlight: number;
  /** Signed-in requests waiting now under `setHold`. */
  held: number;
  /** Requests by method and path, e.g. `POST /account/address`. */
  hits: Map<string, number>;
  addressChanges: number;
}

export interface RunningLegacyBilling {
  url: string;
  server: Server;
  stats: LegacyBillingStats;
  /** The app's current data (address changes show here). */
  accounts: Map<string, LegacyAccount>;
  /** Every signed-in request whose path and query match hangs (never answers) until cleared. */
  setHang(pattern: RegExp | undefined): void;
  /** Every signed-in request whose path and query match waits until the hold is cleared (or another set), then is answered. */
  setHold(pattern: RegExp | undefined): void;
  setDelay(delayMs: number, jitterMs?: number): void;
  /** Ends every session at once, as the legacy app does at its nightly restart. */
  expireSessions(): void;
  close(): Promise<void>;
}

export const SAMPLE_USER = 'CLERK01';
export const SAMPLE_PASSWORD = 'billing-sample';
const COOKIE = 'BSID';

const STATUS_WORDS: Record<string, string> = { Open: 'OPEN', Overdue: 'OVERDUE', Closed: 'CLOSED' };

function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > 64_000) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location, 'content-length': 0, ...headers });
  res.end();
}

function loginScreen(messages: Message[]): string {
  return frame(
    'Sign on',
    `<form id="signon" method="post" action="/login">
<label for="userid">User ID</label> <input id="userid" name="userid" maxlength="8" autocomplete="off"><br>
<label for="password">Password</label> <input id="password" name="password" type="password" maxlength="20"><br>
<button id="signon-button" type="submit">Sign on</button>
</form>`,
    { messages },
  );
}

function inquiryForm(value = ''): string {
  return `<form id="inquiry" method="get" action="/account">
<label for="account-no">Account no.</label> <input id="account-no" name="no" maxlength="7" value="${esc(value)}">
<button id="display" type="submit">Display</button>
</form>`;
}

function detailScreen(a: LegacyAccount): string {
  const row = (label: string, value: string) => `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`;
  return `${inquiryForm(a.accountNo)}
<table id="account" class="detail">
${row('Account no.', a.accountNo)}
${row('Account holder', a.holder)}
${row('Status', STATUS_WORDS[a.status])}
${row('Balance', legacyMoney(a.balanceCents))}
${row('Currency', a.currency)}
${row('Address line 1', a.address.line1)}
${row('Address line 2', a.address.line2)}
${row('City', a.address.city)}
${row('Postal code', a.address.postalCode)}
${row('Last payment', a.lastPaymentOn ? legacyDate(a.lastPaymentOn) : '(none)')}
</table>
<p><a id="invoices" href="/account/invoices?no=${esc(a.accountNo)}">Invoices</a> | <a id="change-address" href="/account/address?no=${esc(a.accountNo)}">Change address</a></p>`;
}

function addressForm(no: string, v: { line1: string; line2: string; city: string; postal: string }): string {
  return `<form id="address" method="post" action="/account/address">
<input type="hidden" name="no" value="${esc(no)}">
<label for="line1">Address line 1</label> <input id="line1" name="line1" maxlength="30" value="${esc(v.line1)}"><br>
<label for="line2">Address line 2</label> <input id="line2" name="line2" maxlength="30" value="${esc(v.line2)}"><br>
<label for="city">City</label> <input id="city" name="city" maxlength="20" value="${esc(v.city)}"><br>
<label for="postal">Postal code</label> <input id="postal" name="postal" maxlength="8" value="${esc(v.postal)}"><br>
<button id="save" type="submit">Save</button> <a href="/account?no=${esc(no)}">Cancel</a>
</form>`;
}

/** The server-side checks of the address form, in the legacy app's words. */
function validateAddress(a: LegacyAccount, v: { line1: string; line2: string; city: string; postal: string }): string[] {
  const errors: string[] = [];
  if (a.status === 'Closed') errors.push(`Account ${a.accountNo} is closed; its address cannot be changed.`);
  if (v.line1.trim() === '') errors.push('Address line 1 is required.');
  if (v.line1.length > 30) errors.push('Address line 1 is longer than 30 characters.');
  if (v.line2.length > 30) errors.push('Address line 2 is longer than 30 characters.');
  if (v.city.trim() === '') errors.push('City is required.');
  else if (/\d/.test(v.city)) errors.push('City must not contain digits.');
  if (v.city.length > 20) errors.push('City is longer than 20 characters.');
  if (!/^[A-Z0-9][A-Z0-9 -]{1,6}[A-Z0-9]$/i.test(v.postal.trim())) errors.push(`Postal code "${v.postal}" is not valid: use 3 to 8 letters, digits, spaces or dashes.`);
  return errors;
}

function pager(page: number, pages: number, base: string): string {
  const prev = page > 1 ? `<a id="prev" href="${esc(`${base}&page=${page - 1}`)}">&lt; Prev</a>` : '';
  const next = page < pages ? `<a id="next" href="${esc(`${base}&page=${page + 1}`)}">Next &gt;</a>` : '';
  return `<p class="pager"><span id="page-info">Page ${page} of ${pages}</span> ${prev} ${next}</p>`;
}

export async function startLegacyBilling(opts: LegacyBillingOptions = {}): Promise<RunningLegacyBilling> {
  const users = opts.users ?? { [SAMPLE_USER]: SAMPLE_PASSWORD };
  const ttl = opts.sessionTtlMs ?? 600_000;
  const searchPageSize = opts.searchPageSize ?? 10;
  const invoicePageSize = opts.invoicePageSize ?? 5;
  let delay = opts.delayMs ?? 0;
  let jitter = opts.jitterMs ?? 0;
  let hang: RegExp | undefined;
  let hold: RegExp | undefined;
  let releaseHeld: (() => void)[] = [];
  const sessions = new Map<string, { user: string; expiresAt: number }>();
  const accounts = new Map(seedAccounts().map((a) => [a.accountNo, a]));
  const ordered = [...accounts.values()];
  const stats: LegacyBillingStats = { logins: 0, failedLogins: 0, inFlight: 0, maxInFlight: 0, held: 0, hits: new Map(), addressChanges: 0 };

  const page = (res: ServerResponse, title: string, body: string, messages: Message[] = []) => html(res, 200, frame(title, body, { signedIn: true, messages }));

  async function signedIn(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/menu' || path === '/') {
      return page(res, 'Main menu', '<ul id="menu"><li><a id="menu-inquiry" href="/account">Account inquiry</a></li><li><a id="menu-search" href="/search">Account search</a></li></ul>');
    }
    if (path === '/search') {
      const name = url.searchParams.get('name');
      const form = `<form id="search" method="get" action="/search">
<label for="name">Account holder</label> <input id="name" name="name" maxlength="30" value="${esc(name ?? '')}">
<button id="search-button" type="submit">Search</button>
</form>`;
      if (name === null) return page(res, 'Account search', form);
      if (name.trim().length < 2) return page(res, 'Account search', form, [{ kind: 'error', text: 'Enter at least 2 characters of the account holder.' }]);
      const needle = name.trim().toUpperCase();
      const found = ordered.filter((a) => a.holder.toUpperCase().includes(needle));
      if (found.length === 0) return page(res, 'Account search', form, [{ kind: 'info', text: `No accounts match ${needle}.` }]);
      const pages = Math.ceil(found.length / searchPageSize);
      const wanted = Number(url.searchParams.get('page') ?? '1');
      if (!Number.isInteger(wanted) || wanted < 1) return page(res, 'Account search', form, [{ kind: 'error', text: 'Page number is not valid.' }]);
      const p = Math.min(wanted, pages);
      const rows = found
        .slice((p - 1) * searchPageSize, p * searchPageSize)
        .map((a) => `<tr><td><a href="/account?no=${esc(a.accountNo)}">${esc(a.accountNo)}</a></td><td>${esc(a.holder)}</td><td>${STATUS_WORDS[a.status]}</td></tr>`)
        .join('\n');
      const gotoForm = `<form id="goto" method="get" action="/search"><input type="hidden" name="name" value="${esc(name)}">
<label for="goto-page">Go to page</label> <input id="goto-page" name="page" maxlength="4" size="4"> <button id="goto-button" type="submit">Go</button></form>`;
      const messages: Message[] = wanted > pages ? [{ kind: 'info', text: `There are only ${pages} pages; showing the last.` }] : [];
      return page(
        res,
        'Account search',
        `${form}
<table id="results"><thead><tr><th>Account no.</th><th>Account holder</th><th>Status</th></tr></thead><tbody>
${rows}
</tbody></table>
${pager(p, pages, `/search?name=${encodeURIComponent(name)}`)}
${gotoForm}`,
        messages,
      );
    }
    if (path === '/account') {
      const no = url.searchParams.get('no');
      if (no === null) return page(res, 'Account inquiry', inquiryForm());
      const a = accounts.get(no.trim().toUpperCase());
      if (!a) return page(res, 'Account inquiry', inquiryForm(no), [{ kind: 'error', text: `Account ${no.trim().toUpperCase()} not found.` }]);
      const messages: Message[] = url.searchParams.get('changed') === '1' ? [{ kind: 'info', text: 'Billing address changed.' }] : [];
      return page(res, 'Account inquiry', detailScreen(a), messages);
    }
    if (path === '/account/invoices') {
      const no = url.searchParams.get('no') ?? '';
      const a = accounts.get(no);
      if (!a) return page(res, 'Invoices', inquiryForm(no), [{ kind: 'error', text: `Account ${no} not found.` }]);
      if (a.invoices.length === 0) return page(res, 'Invoices', `<p id="invoice-owner">${esc(a.accountNo)} ${esc(a.holder)}</p>`, [{ kind: 'info', text: 'No invoices on file.' }]);
      const pages = Math.ceil(a.invoices.length / invoicePageSize);
      const p = Math.min(Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1), pages);
      const rows = a.invoices
        .slice((p - 1) * invoicePageSize, p * invoicePageSize)
        .map(
          (i) =>
            `<tr><td>${esc(i.invoiceNo)}</td><td>${legacyDate(i.issuedOn)}</td><td>${legacyDate(i.dueOn)}</td><td class="num">${legacyMoney(i.amountCents)}</td><td>${i.status.toUpperCase()}</td></tr>`,
        )
        .join('\n');
      return page(
        res,
        'Invoices',
        `<p id="invoice-owner">${esc(a.accountNo)} ${esc(a.holder)}</p>
<table id="invoice-list"><thead><tr><th>Invoice no.</th><th>Issued</th><th>Due</th><th>Amount</th><th>Status</th></tr></thead><tbody>
${rows}
</tbody></table>
${pager(p, pages, `/account/invoices?no=${encodeURIComponent(a.accountNo)}`)}`,
      );
    }
    if (path === '/account/address' && req.method === 'GET') {
      const no = url.searchParams.get('no') ?? '';
      const a = accounts.get(no);
      if (!a) return page(res, 'Change address', inquiryForm(no), [{ kind: 'error', text: `Account ${no} not found.` }]);
      return page(res, 'Change address', addressForm(a.accountNo, { line1: a.address.line1, line2: a.address.line2, city: a.address.city, postal: a.address.postalCode }));
    }
    if (path === '/account/address' && req.method === 'POST') {
      const form = await readBody(req);
      const no = form.get('no') ?? '';
      const a = accounts.get(no);
      if (!a) return page(res, 'Change address', inquiryForm(no), [{ kind: 'error', text: `Account ${no} not found.` }]);
      const v = { line1: form.get('line1') ?? '', line2: form.get('line2') ?? '', city: form.get('city') ?? '', postal: form.get('postal') ?? '' };
      const errors = validateAddress(a, v);
      if (errors.length > 0)
        return page(
          res,
          'Change address',
          addressForm(a.accountNo, v),
          errors.map((text) => ({ kind: 'error', text })),
        );
      a.address = { line1: v.line1.trim(), line2: v.line2.trim(), city: v.city.trim(), postalCode: v.postal.trim().toUpperCase() };
      stats.addressChanges++;
      return redirect(res, `/account?no=${encodeURIComponent(a.accountNo)}&changed=1`);
    }
    return html(res, 404, frame('Not found', '<p>No such screen.</p>', { signedIn: true }));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://legacy');
      const key = `${req.method ?? 'GET'} ${url.pathname}`;
      stats.hits.set(key, (stats.hits.get(key) ?? 0) + 1);
      if (url.pathname === '/healthz') return html(res, 200, 'ok');
      if (url.pathname === '/login') {
        if (req.method === 'POST') {
          const form = await readBody(req);
          const user = (form.get('userid') ?? '').toUpperCase();
          if (users[user] === undefined || users[user] !== form.get('password')) {
            stats.failedLogins++;
            return html(res, 200, loginScreen([{ kind: 'error', text: 'Invalid user ID or password.' }]));
          }
          stats.logins++;
          const sid = randomBytes(16).toString('hex');
          sessions.set(sid, { user, expiresAt: Date.now() + ttl });
          return redirect(res, '/menu', { 'set-cookie': `${COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax` });
        }
        const expired = url.searchParams.get('reason') === 'expired';
        return html(res, 200, loginScreen(expired ? [{ kind: 'info', text: 'Your session has expired. Please sign on again.' }] : []));
      }
      const sid = cookieOf(req, COOKIE);
      const session = sid === undefined ? undefined : sessions.get(sid);
      if (!session || session.expiresAt < Date.now()) {
        if (sid !== undefined) sessions.delete(sid);
        return redirect(res, sid === undefined ? '/login' : '/login?reason=expired');
      }
      if (url.pathname === '/logout') {
        sessions.delete(sid as string);
        return redirect(res, '/login', { 'set-cookie': `${COOKIE}=; Path=/; Max-Age=0` });
      }
      session.expiresAt = Date.now() + ttl;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      res.on('close', () => stats.inFlight--);
      if (hang?.test(url.pathname + url.search)) return; // never answers; close() ends it
      if (hold?.test(url.pathname + url.search)) {
        stats.held++;
        await new Promise<void>((r) => releaseHeld.push(r));
        stats.held--;
      }
      const wait = delay + (jitter > 0 ? Math.random() * jitter : 0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await signedIn(req, res, url);
    })().catch((err: unknown) => {
      if (!res.headersSent) html(res, 500, frame('System error', `<p>ABEND ${esc(err instanceof Error ? err.message : String(err))}</p>`));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    server,
    stats,
    accounts,
    setHang: (p) => {
      hang = p;
    },
    setHold: (p) => {
      hold = p;
      const held = releaseHeld;
      releaseHeld = [];
      for (const release of held) release();
    },
    setDelay: (d, j = 0) => {
      delay = d;
      jitter = j;
    },
    expireSessions: () => sessions.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of releaseHeld.splice(0)) release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export { ACCOUNT_COUNT };
