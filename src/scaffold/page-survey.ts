/**
 * What a legacy page shows a flow's author: its title and URL, its forms (method, action, fields
 * with their name, type, label, whether required, maxlength and options; submit buttons), its
 * tables (header texts) and the buttons outside forms, each with a selector that finds exactly that
 * element: `#id` where the id is unique, else `form#f [name="x"]`/`tag[name="x"]`, else
 * `role=button[name="…"]`, else a CSS path. Every selector is counted on the page (exactly one
 * match) before it is kept. Read-only: nothing is typed or clicked.
 */
import type { Page } from 'playwright-core';

export interface SurveyField {
  /** The field's name attribute (or id). */
  name: string;
  /** input type (text, password, checkbox, …), or select / textarea. */
  type: string;
  label: string;
  required: boolean;
  /** -1 when none. */
  maxLength: number;
  /** A select's option texts. */
  options?: string[];
  selector: string;
}

export interface SurveyButton {
  text: string;
  selector: string;
}

export interface SurveyForm {
  /** The form's id or name, else `form<n>`. */
  name: string;
  selector: string;
  method: string;
  action: string;
  fields: SurveyField[];
  buttons: SurveyButton[];
}

export interface SurveyTable {
  name: string;
  selector: string;
  headers: string[];
}

export interface PageSurvey {
  url: string;
  title: string;
  forms: SurveyForm[];
  tables: SurveyTable[];
  /** Buttons outside any form. */
  buttons: SurveyButton[];
  /** Same-origin links (text, href) to other screens. */
  links: { text: string; href: string }[];
}

/** Built from source text so that no compiler helper ends up in the page (see src/kinds/screen/screen.ts). */
const SURVEY = new Function(
  `const clean = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const unique = (sel) => { try { return document.querySelectorAll(sel).length === 1; } catch { return false; } };
  const cssId = (id) => /^[A-Za-z][A-Za-z0-9_-]*$/.test(id) ? '#' + id : '[id="' + id.replace(/"/g, '\\\\"') + '"]';
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && e !== document.documentElement; e = e.parentElement) {
      if (e.id && unique(cssId(e.id))) { parts.unshift(cssId(e.id)); break; }
      const same = Array.from(e.parentElement ? e.parentElement.children : []).filter((c) => c.tagName === e.tagName);
      parts.unshift(e.tagName.toLowerCase() + (same.length > 1 ? ':nth-of-type(' + (same.indexOf(e) + 1) + ')' : ''));
    }
    return parts.join(' > ');
  };
  const labelOf = (el) => {
    if (el.labels && el.labels.length > 0) return clean(el.labels[0].textContent);
    const aria = el.getAttribute('aria-label');
    if (aria) return clean(aria);
    const by = el.getAttribute('aria-labelledby');
    if (by && document.getElementById(by)) return clean(document.getElementById(by).textContent);
    const cell = el.closest('td');
    if (cell && cell.previousElementSibling) return clean(cell.previousElementSibling.textContent);
    return clean(el.getAttribute('placeholder') || el.getAttribute('title') || '');
  };
  const selectorOf = (el, scope) => {
    const tag = el.tagName.toLowerCase();
    if (el.id && unique(cssId(el.id))) return tag === 'table' || tag === 'form' ? tag + cssId(el.id) : cssId(el.id);
    const name = el.getAttribute('name');
    if (name) {
      const byName = tag + '[name="' + name.replace(/"/g, '\\\\"') + '"]';
      if (unique(byName)) return byName;
      if (scope && unique(scope + ' ' + byName)) return scope + ' ' + byName;
    }
    return '';
  };
  const buttonText = (b) => clean(b.tagName === 'INPUT' ? b.value : b.textContent || b.getAttribute('aria-label') || b.value);
  const button = (b, scope) => ({ text: buttonText(b), css: selectorOf(b, scope), path: path(b) });
  const forms = Array.from(document.forms).map((f, i) => {
    const css = selectorOf(f, '') || path(f);
    const fields = [];
    const buttons = [];
    for (const el of Array.from(f.elements)) {
      const tag = el.tagName.toLowerCase();
      const type = tag === 'input' ? (el.getAttribute('type') || 'text').toLowerCase() : tag;
      if (tag === 'button' || type === 'submit' || type === 'button' || type === 'reset' || type === 'image') {
        if (type !== 'reset') buttons.push(button(el, css));
        continue;
      }
      if (type === 'hidden' || tag === 'fieldset' || tag === 'output' || tag === 'object') continue;
      fields.push({
        name: el.getAttribute('name') || el.id || '',
        type,
        label: labelOf(el),
        required: !!el.required || el.getAttribute('aria-required') === 'true',
        maxLength: typeof el.maxLength === 'number' ? el.maxLength : -1,
        options: tag === 'select' ? Array.from(el.options).map((o) => clean(o.textContent)) : undefined,
        css: selectorOf(el, css),
        path: path(el),
      });
    }
    return { name: f.id || f.getAttribute('name') || 'form' + (i + 1), css, method: (f.getAttribute('method') || 'get').toLowerCase(), action: f.getAttribute('action') || '', fields, buttons };
  });
  const tables = Array.from(document.querySelectorAll('table')).map((t, i) => {
    const head = (t.tHead && t.tHead.rows[0]) || (t.rows[0] && Array.from(t.rows[0].cells).every((c) => c.tagName === 'TH') ? t.rows[0] : undefined);
    return { name: t.id || 'table' + (i + 1), css: selectorOf(t, ''), path: path(t), headers: head ? Array.from(head.cells).map((c) => clean(c.textContent)) : [] };
  });
  const loose = Array.from(document.querySelectorAll('button, input[type=submit], input[type=button]')).filter((b) => !b.form).map((b) => button(b, ''));
  const links = Array.from(document.querySelectorAll('a[href]'))
    .filter((a) => a.origin === location.origin)
    .map((a) => ({ text: clean(a.textContent), href: a.pathname + a.search }));
  return { url: location.href, title: document.title, forms, tables, buttons: loose, links };`,
) as () => RawSurvey;

interface RawElement {
  css: string;
  path: string;
}
interface RawButton extends RawElement {
  text: string;
}
interface RawSurvey {
  url: string;
  title: string;
  forms: { name: string; css: string; method: string; action: string; fields: (Omit<SurveyField, 'selector' | 'options'> & RawElement & { options?: string[] })[]; buttons: RawButton[] }[];
  tables: ({ name: string; headers: string[] } & RawElement)[];
  buttons: RawButton[];
  links: { text: string; href: string }[];
}

async function exactlyOne(page: Page, selector: string): Promise<boolean> {
  if (!selector) return false;
  try {
    return (await page.locator(selector).count()) === 1;
  } catch {
    return false; // not a selector Playwright can read
  }
}

/** The first candidate that finds exactly one element: the kept css, the role and name, the CSS path. */
async function pick(page: Page, candidates: string[]): Promise<string> {
  for (const c of candidates) if (await exactlyOne(page, c)) return c;
  return candidates[candidates.length - 1];
}

const quoted = (s: string) => JSON.stringify(s);

async function pickButton(page: Page, b: RawButton): Promise<SurveyButton> {
  return { text: b.text, selector: await pick(page, [b.css, b.text ? `role=button[name=${quoted(b.text)}]` : '', b.path].filter(Boolean)) };
}

export async function surveyPage(page: Page): Promise<PageSurvey> {
  const raw = (await page.evaluate(SURVEY)) as RawSurvey;
  const forms: SurveyForm[] = [];
  for (const f of raw.forms) {
    const fields: SurveyField[] = [];
    for (const x of f.fields) {
      const role = x.label ? `role=${x.type === 'select' ? 'combobox' : x.type === 'checkbox' ? 'checkbox' : 'textbox'}[name=${quoted(x.label)}]` : '';
      const selector = await pick(page, [x.css, x.type === 'password' ? '' : role, x.path].filter(Boolean));
      fields.push({ name: x.name, type: x.type, label: x.label, required: x.required, maxLength: x.maxLength, ...(x.options ? { options: x.options } : {}), selector });
    }
    const buttons: SurveyButton[] = [];
    for (const b of f.buttons) buttons.push(await pickButton(page, b));
    forms.push({ name: f.name, selector: await pick(page, [f.css]), method: f.method, action: f.action, fields, buttons });
  }
  const tables: SurveyTable[] = [];
  for (const t of raw.tables) tables.push({ name: t.name, selector: await pick(page, [t.css, t.path].filter(Boolean)), headers: t.headers });
  const buttons: SurveyButton[] = [];
  for (const b of raw.buttons) buttons.push(await pickButton(page, b));
  return { url: raw.url, title: raw.title, forms, tables, buttons, links: raw.links };
}
