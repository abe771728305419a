/**
 * The small typed API a flow drives a legacy screen with, as a clerk would: go to, fill, choose,
 * click, wait for, read a field, read a table into rows, page through results, read the message
 * area, and say "not found" or "refused" in the screen's words. Values are typed into fields as
 * data; selectors come only from the flow's own `selectors({...})`.
 */
import type { Page } from 'playwright-core';
import { ScreenChanged, ScreenInputRefused, ScreenNotFound, ScreenRefused, SessionExpired, LegacyLoginRefused } from './screen-errors.ts';
import type { Selector } from './selectors.ts';
import type { FieldError } from '../../problem.ts';

export interface ScreenOptions {
  /** The legacy app's base URL; `goto` refuses any other origin. */
  baseUrl: string;
  signal: AbortSignal;
  /** Says whether the page now shows the legacy login screen (the session is gone). */
  isLoginScreen?: (screen: Screen) => boolean | Promise<boolean>;
  /** The request field a value typed with `fill` came from (e.g. body.line1), for the 422 that refuses it. */
  fieldOf?: (value: string) => string | undefined;
}

export type Row<K extends string> = Record<K, string>;

/**
 * Functions that run in the page are built from source text, so that no compiler helper (tsx adds
 * `__name(...)` calls) ends up in the page, where it does not exist.
 */
function inPage(param: string, body: string): (el: Element) => unknown {
  return new Function(param, body) as (el: Element) => unknown;
}

/** [label, value] for every label cell (th, dt, td) followed by a value cell. */
const READ_LABELLED = inPage(
  'root',
  `const clean = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const out = [];
  for (const el of root.querySelectorAll('th, dt, td')) {
    const next = el.nextElementSibling;
    if (next && (next.tagName === 'TD' || next.tagName === 'DD')) out.push([clean(el.textContent), clean(next.textContent)]);
  }
  return out;`,
);

/** What a form field can hold: its tag, and its maxlength (-1 when it has none). */
const DESCRIBE_FIELD = inPage('el', `return { tag: el.tagName, maxLength: typeof el.maxLength === 'number' ? el.maxLength : -1 };`);

/** Why `field` cannot hold `value` as given, in the legacy form's own units; undefined when it can. */
function unfit(value: string, field: { tag: string; maxLength: number }): string | undefined {
  if (value.includes('\0')) return 'contains a NUL character, which the legacy form cannot hold';
  if (field.tag === 'INPUT' && /[\r\n]/.test(value)) return 'contains a line break, and the legacy form field is a single line';
  if (field.maxLength >= 0 && value.length > field.maxLength) {
    const chars = [...value].length;
    return `the legacy form takes at most ${field.maxLength} UTF-16 units, and this value is ${value.length}${chars !== value.length ? ` (${chars} characters; emoji and other characters beyond U+FFFF count as two)` : ''}`;
  }
  return undefined;
}

/** A table's header texts and its body rows' cell texts, in one round trip. */
const READ_TABLE = inPage(
  't',
  `const clean = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const headRow = (t.tHead && t.tHead.rows[0]) || t.rows[0];
  const headers = headRow ? Array.from(headRow.cells).map((c) => clean(c.textContent)) : [];
  const bodyRows = t.tBodies.length > 0 ? Array.from(t.tBodies).flatMap((b) => Array.from(b.rows)) : Array.from(t.rows).slice(1);
  return { headers, rows: bodyRows.map((r) => Array.from(r.cells).map((c) => clean(c.textContent))) };`,
);

export class Screen {
  private readonly base: URL;
  /** Actions taken so far (goto, fill, click, read, ...), for the attempt's trace span. */
  steps = 0;
  /** The legacy app's screens opened with goto, in order (paths, without query values). */
  readonly screens: string[] = [];

  constructor(
    /** The Playwright page, for what the API does not cover; prefer the API's methods. */
    readonly page: Page,
    private readonly opts: ScreenOptions,
  ) {
    this.base = new URL(opts.baseUrl);
  }

  /** Where the page is now. */
  url(): URL {
    return new URL(this.page.url());
  }

  /** Opens a screen of the legacy app by path; query values are encoded as data. */
  async goto(path: string, query: Record<string, string | number> = {}): Promise<void> {
    this.checkAborted();
    if (!path.startsWith('/')) throw new Error(`goto: "${path}" is not a path of the legacy app (start it with /)`);
    const url = new URL(path, this.base);
    if (url.origin !== this.base.origin) throw new Error(`goto: ${path} leaves the legacy app`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    this.screens.push(path);
    await this.page.goto(url.href, { waitUntil: 'domcontentloaded' });
    await this.checkSession();
  }

  /**
   * Types `value` into a field, replacing what is there. A value the field cannot hold as given
   * (longer than its maxlength, which counts UTF-16 units; a line break in a single-line input; a
   * NUL) is refused before typing, and what the field holds after typing is read back: when the
   * legacy form changed the value, the flow ends with a 422 `legacy-refused` naming the field,
   * rather than the legacy app storing something else than was asked.
   */
  async fill(field: Selector, value: string): Promise<void> {
    this.checkAborted();
    const loc = this.page.locator(field);
    const what = (await loc.evaluate(DESCRIBE_FIELD)) as { tag: string; maxLength: number };
    const named = () => this.opts.fieldOf?.(value) ?? `the legacy form field ${field}`;
    const why = unfit(value, what);
    if (why !== undefined) throw new ScreenInputRefused(named(), why);
    await loc.fill(value);
    if (what.tag !== 'INPUT' && what.tag !== 'TEXTAREA') return;
    const held = await loc.inputValue();
    if (held !== value) throw new ScreenInputRefused(named(), `the legacy form changed the value to ${JSON.stringify(held)}`);
  }

  /** Picks an option of a select list by its visible label, or by its value. */
  async choose(field: Selector, option: string): Promise<void> {
    this.checkAborted();
    const list = this.page.locator(field);
    const labels = (await list.locator('option').allTextContents()).map((t) => t.trim());
    await list.selectOption(labels.includes(option) ? { label: option } : { value: option });
  }

  /** Ticks or clears a checkbox. */
  async tick(field: Selector, on = true): Promise<void> {
    this.checkAborted();
    await this.page.locator(field).setChecked(on);
  }

  /** Clicks (a button, a link) and waits for the screen it leads to. */
  async click(target: Selector): Promise<void> {
    this.checkAborted();
    await this.page.locator(target).click();
    await this.page.waitForLoadState('domcontentloaded');
    await this.checkSession();
  }

  /** Waits until an element is visible (or hidden, or gone). */
  async waitFor(target: Selector, state: 'visible' | 'hidden' | 'attached' | 'detached' = 'visible'): Promise<void> {
    this.checkAborted();
    await this.page.locator(target).first().waitFor({ state });
  }

  /** Whether an element is on the screen now (no waiting). */
  async isVisible(target: Selector): Promise<boolean> {
    this.checkAborted();
    return this.page.locator(target).first().isVisible();
  }

  /** The text of one field, trimmed; waits for it to appear. */
  async read(field: Selector): Promise<string> {
    this.checkAborted();
    const text = await this.page.locator(field).first().textContent();
    return (text ?? '').replace(/\s+/g, ' ').trim();
  }

  /** Several fields at once, by name. */
  async readFields<K extends string>(fields: Record<K, Selector>): Promise<Record<K, string>> {
    this.checkAborted();
    const entries = await Promise.all(
      (Object.entries(fields) as [K, Selector][]).map(async ([k, sel]) => {
        const loc = this.page.locator(sel);
        if ((await loc.count()) === 0) throw new ScreenChanged(`field "${k}" (${sel}) is not on the screen at ${this.page.url()}`);
        return [k, ((await loc.first().textContent()) ?? '').replace(/\s+/g, ' ').trim()] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<K, string>;
  }

  /**
   * Fields shown as label/value pairs (`<th>Label</th><td>value</td>`, `<dt>`/`<dd>`, `<td>` pairs),
   * by name → label, read in one round trip. A label missing from the screen means the screen changed.
   */
  async readLabelled<K extends string>(labels: Record<K, string>, within?: Selector): Promise<Record<K, string>> {
    this.checkAborted();
    const scope = within ? this.page.locator(within).first() : this.page.locator('body');
    const pairs = (await scope.evaluate(READ_LABELLED)) as [string, string][];
    const found = new Map<string, string>();
    for (const [label, value] of pairs) if (!found.has(label)) found.set(label, value);
    const out = {} as Record<K, string>;
    for (const [k, label] of Object.entries(labels) as [K, string][]) {
      const v = found.get(label);
      if (v === undefined) throw new ScreenChanged(`no field labelled "${label}" at ${this.page.url()}`);
      out[k] = v;
    }
    return out;
  }

  /** The texts of every element a selector matches now (a message area, say); no waiting. */
  async readAll(target: Selector): Promise<string[]> {
    this.checkAborted();
    const texts = await this.page.locator(target).allTextContents();
    return texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter((t) => t !== '');
  }

  /**
   * Reads a table into rows: `columns` maps the names the flow wants to the table's header texts.
   * A header the table lacks means the screen changed, and says so.
   */
  async readTable<K extends string>(table: Selector, columns: Record<K, string>): Promise<Row<K>[]> {
    this.checkAborted();
    const loc = this.page.locator(table).first();
    if ((await loc.count()) === 0) return [];
    const { headers, rows } = (await loc.evaluate(READ_TABLE)) as { headers: string[]; rows: string[][] };
    const index = {} as Record<K, number>;
    for (const [k, header] of Object.entries(columns) as [K, string][]) {
      const i = headers.indexOf(header);
      if (i < 0) throw new ScreenChanged(`the table ${table} at ${this.page.url()} has no column "${header}" (it has: ${headers.join(', ')})`);
      index[k] = i;
    }
    return rows
      .filter((cells) => cells.some((c) => c !== ''))
      .map((cells) => {
        const row = {} as Row<K>;
        for (const k of Object.keys(index) as K[]) row[k] = cells[index[k]] ?? '';
        return row;
      });
  }

  /** Reads every page: `readPage` reads the current one, `next` is the "next page" control (absent on the last). */
  async pageThrough<T>(readPage: () => Promise<T[]>, next: Selector, opts: { maxPages?: number } = {}): Promise<T[]> {
    const maxPages = opts.maxPages ?? 200;
    const out: T[] = [];
    for (let n = 1; ; n++) {
      out.push(...(await readPage()));
      if (!(await this.isVisible(next))) return out;
      if (n >= maxPages) throw new ScreenChanged(`more than ${maxPages} pages at ${this.page.url()}; raise maxPages if that is real`);
      await this.click(next);
    }
  }

  /** Ends the flow: the screen said there is no such record (a 404 with the screen's words). */
  notFound(words: string): never {
    throw new ScreenNotFound(words);
  }

  /** Ends the flow: the screen refused the input (a 422 carrying the screen's words). */
  refused(words: string[], fields: FieldError[] = []): never {
    throw new ScreenRefused(words, fields);
  }

  /** Ends a login flow: the legacy app refused the gateway's credentials (a 502, never the caller's fault). */
  loginRefused(words: string): never {
    throw new LegacyLoginRefused(words);
  }

  /** Ends the flow: the screen is not what the flow expects. */
  unexpected(what: string): never {
    throw new ScreenChanged(`${what} (at ${this.page.url()})`);
  }

  private checkAborted(): void {
    this.steps++;
    if (this.opts.signal.aborted) throw this.opts.signal.reason instanceof Error ? this.opts.signal.reason : new Error('the flow was cancelled');
  }

  private async checkSession(): Promise<void> {
    if (this.opts.isLoginScreen && (await this.opts.isLoginScreen(this))) throw new SessionExpired(this.page.url());
  }
}
