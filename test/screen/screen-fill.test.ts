/**
 * Screen.fill against a real form in headless Chromium: a value the field cannot hold as given is
 * refused before it is typed (maxlength counts UTF-16 units, a single-line input takes no line
 * break, no field takes a NUL), and a value the form changes while it is typed is caught by reading
 * the field back. Either way the flow ends with ScreenInputRefused naming the request field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { browserArgs, findBrowser } from '../../src/kinds/screen/browser-discovery.ts';
import { Screen } from '../../src/kinds/screen/screen.ts';
import { ScreenInputRefused } from '../../src/kinds/screen/screen-errors.ts';
import { selectors } from '../../src/kinds/screen/selectors.ts';

const FORM = `<form>
<input id="line1" maxlength="30" value="1 Old Road">
<input id="plain" value="">
<textarea id="notes"></textarea>
<input id="digits-dropped" oninput="this.value = this.value.replace(/[0-9]/g, '')">
</form>`;
const sel = selectors({ line1: '#line1', plain: '#plain', notes: '#notes', digitsDropped: '#digits-dropped' });

let browser: Browser;
let page: Page;
let screen: Screen;

beforeAll(async () => {
  const found = findBrowser(undefined);
  if (!found.ok) throw new Error(found.reason);
  browser = await chromium.launch({ executablePath: found.path, args: browserArgs([]), headless: true });
  page = await browser.newPage();
  await page.setContent(FORM);
  const fields = new Map([['1 New Road', 'body.line1']]);
  screen = new Screen(page, { baseUrl: 'http://127.0.0.1', signal: new AbortController().signal, fieldOf: (v) => fields.get(v) ?? (v.startsWith('😀') ? 'body.line1' : undefined) });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function refusal(p: Promise<void>): Promise<ScreenInputRefused> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ScreenInputRefused);
  return err as ScreenInputRefused;
}

describe('typing into a legacy form', () => {
  it('types a value the field can hold, and the field holds it', async () => {
    await screen.fill(sel.line1, '1 New Road');
    expect(await page.inputValue('#line1')).toBe('1 New Road');
    await screen.fill(sel.notes, 'two\nlines');
    expect(await page.inputValue('#notes')).toBe('two\nlines');
  });

  it('refuses 16 emoji for a maxlength of 30 (32 UTF-16 units) before typing, naming the request field', async () => {
    await page.fill('#line1', '1 Old Road');
    const err = await refusal(screen.fill(sel.line1, '😀'.repeat(16)));
    expect(err.field).toBe('body.line1');
    expect(err.reason).toMatch(/at most 30 UTF-16 units, and this value is 32 \(16 characters/);
    expect(await page.inputValue('#line1')).toBe('1 Old Road');
    // 15 fit exactly.
    await screen.fill(sel.line1, '😀'.repeat(15));
    expect(await page.inputValue('#line1')).toBe('😀'.repeat(15));
  });

  it('refuses a line break in a single-line field, and a NUL anywhere', async () => {
    const broken = await refusal(screen.fill(sel.plain, 'first\nsecond'));
    expect(broken.field).toBe('the legacy form field #plain');
    expect(broken.reason).toMatch(/line break/);
    expect((await refusal(screen.fill(sel.plain, 'a\u0000b'))).reason).toMatch(/NUL/);
    expect((await refusal(screen.fill(sel.notes, 'a\u0000b'))).reason).toMatch(/NUL/);
  });

  it('reads the field back: a value the form changed while it was typed is refused, saying what the form holds', async () => {
    const err = await refusal(screen.fill(sel.digitsDropped, 'Flat 12'));
    expect(err.reason).toBe('the legacy form changed the value to "Flat "');
  });
});
