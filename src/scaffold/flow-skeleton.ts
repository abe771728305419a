/**
 * A page survey (page-survey.ts) → the TypeScript of a flow skeleton in the shape the screen kind
 * runs (src/kinds/screen/flow.ts; adapters/billing-ui/flows/ are finished examples): the page's
 * selectors in one `selectors({...})`, and a default export: `defineLogin` for a page whose form
 * takes a password, else `defineFlow` for its first form (input: a zod object of the form's fields
 * with their limits; output: the tables on the page). TODOs say what only a person can know.
 */
import { relative } from 'node:path';
import type { PageSurvey, SurveyField, SurveyForm } from './page-survey.ts';

const RESERVED = new Set(['default', 'class', 'function', 'delete', 'new', 'return', 'switch', 'this', 'var', 'in', 'for', 'if', 'do', 'import', 'export']);

/** `signon-button`, `Account no.` → `signonButton`, `accountNo`: a TypeScript identifier. */
export function identifier(text: string, fallback: string): string {
  const words = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
  let id = words.map((w, i) => (i === 0 ? w[0].toLowerCase() + w.slice(1) : w[0].toUpperCase() + w.slice(1))).join('');
  if (!id || /^\d/.test(id)) id = `${fallback}${id ? id[0].toUpperCase() + id.slice(1) : ''}`;
  return RESERVED.has(id) ? `${id}Field` : id;
}

class Names {
  /** Taken already: the names the skeleton's code uses itself. */
  private readonly used = new Set<string>(['screen', 'input', 'z', 'selectors', 'defineFlow', 'defineLogin']);
  take(text: string, fallback: string): string {
    const base = identifier(text, fallback);
    let name = base;
    for (let n = 2; this.used.has(name); n++) name = `${base}${n}`;
    this.used.add(name);
    return name;
  }
}

/** A file name for a page: `/account/address` → `account-address`, `/` → `home`. */
export function pageFileName(survey: PageSurvey): string {
  const path = new URL(survey.url).pathname.replace(/\.[a-z]+$/i, '');
  const slug = path
    .split('/')
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
  return slug || 'home';
}

/** Text safe inside a block comment, on one line. */
const comment = (s: string) => s.replace(/\s+/g, ' ').replace(/\*\//g, '* /');

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fieldNote(f: SurveyField): string {
  const parts = [
    f.type,
    f.label ? JSON.stringify(f.label) : 'no label',
    f.required ? 'required' : '',
    f.maxLength >= 0 ? `maxlength ${f.maxLength}` : '',
    f.options ? `options: ${f.options.join(' | ')}` : '',
  ];
  return parts.filter(Boolean).join(', ');
}

function zodOf(f: SurveyField): string {
  if (f.type === 'checkbox') return 'z.boolean()';
  if (f.type === 'select' && f.options && f.options.length > 0 && f.options.length <= 20) return `z.enum([${f.options.map(q).join(', ')}])`;
  let s = 'z.string()';
  if (f.type !== 'password') s += '.trim()';
  if (f.required) s += '.min(1)';
  if (f.maxLength >= 0) s += `.max(${f.maxLength}, ${q(`the screen takes at most ${f.maxLength} characters`)})`;
  return s;
}

interface Entry {
  key: string;
  selector: string;
  note: string;
}

export interface Skeleton {
  /** The file's name, without folder. */
  file: string;
  kind: 'login' | 'flow';
  text: string;
  /** Every selector the file declares, by key (for tests and the summary). */
  selectors: Record<string, string>;
}

/** The flow skeleton of one page; `flowModule` is the absolute path of src/kinds/screen/flow.ts, `outDir` where the file goes. */
export function flowSkeleton(survey: PageSurvey, opts: { outDir: string; flowModule: string }): Skeleton {
  const url = new URL(survey.url);
  const path = url.pathname;
  const login = survey.forms.find((f) => f.fields.some((x) => x.type === 'password'));
  const form: SurveyForm | undefined = login ?? survey.forms[0];
  const names = new Names();
  const entries: Entry[] = [];
  const fieldKeys = new Map<SurveyField, string>();
  const buttonKeys: string[] = [];
  for (const f of survey.forms) {
    for (const x of f.fields) {
      const key = names.take(x.name || x.label, 'field');
      fieldKeys.set(x, key);
      entries.push({ key, selector: x.selector, note: `form ${f.name}: ${fieldNote(x)}` });
    }
    for (const b of f.buttons) {
      const key = names.take(`${b.text || 'submit'} button`, 'button');
      if (f === form) buttonKeys.push(key);
      entries.push({ key, selector: b.selector, note: `form ${f.name}: button ${JSON.stringify(b.text)}` });
    }
  }
  const tableKeys: { key: string; headers: string[]; columns: string[] }[] = [];
  for (const t of survey.tables) {
    const key = names.take(t.name, 'table');
    const columnNames = new Names();
    tableKeys.push({ key, headers: t.headers, columns: t.headers.map((h, i) => columnNames.take(h, `column${i + 1}`)) });
    entries.push({ key, selector: t.selector, note: `table: ${t.headers.length ? t.headers.join(' | ') : 'no header row'}` });
  }
  for (const b of survey.buttons) entries.push({ key: names.take(`${b.text || 'action'} button`, 'button'), selector: b.selector, note: `button ${JSON.stringify(b.text)}` });

  const file = login ? 'login' : pageFileName(survey);
  const constName = `${identifier(file, 'screen')}Page`;
  let importPath = relative(opts.outDir, opts.flowModule).split('\\').join('/');
  if (!importPath.startsWith('.')) importPath = `./${importPath}`;
  const sel = (key: string) => `${constName}.${key}`;
  const out: string[] = [];
  out.push(
    '/**',
    ` * ${comment(survey.title || path)} (${comment(path)}), scaffolded by \`ficus scaffold screen\` from ${comment(url.origin + path)}.`,
    ` * TODO: check each selector and complete the steps marked TODO; then bind it in the adapter's adapter.yaml`,
    ` * (${login ? 'connection.login.flow' : 'operations.<operationId>.flow'}: flows/${file}.ts). docs/scaffolds.md, and adapters/billing-ui/flows/ for finished flows.`,
    ' */',
    `import { ${login ? 'defineLogin' : 'defineFlow'}, selectors${login ? '' : ', z'} } from ${q(importPath)};`,
    '',
    `export const ${constName} = selectors({`,
    ...entries.map((e) => `  ${e.key}: ${q(e.selector)}, // ${comment(e.note)}`),
    '});',
    '',
  );
  if (login && form) {
    const text = form.fields.filter((x) => x.type !== 'password' && x.type !== 'checkbox' && x.type !== 'radio');
    const user = text[0];
    const password = form.fields.find((x) => x.type === 'password')!;
    out.push(
      'export default defineLogin({',
      `  isLoginScreen: (screen) => screen.url().pathname === ${q(path)},`,
      '  async run(screen, { username, password }) {',
      `    await screen.goto(${q(path)});`,
      user ? `    await screen.fill(${sel(fieldKeys.get(user)!)}, username);` : '    // TODO: the user name field',
      `    await screen.fill(${sel(fieldKeys.get(password)!)}, password);`,
      buttonKeys[0] ? `    await screen.click(${sel(buttonKeys[0])});` : '    // TODO: the sign-on button',
      '    // TODO: the words the app shows when it refuses the credentials, e.g.',
      "    //   const errors = await screen.readAll(<the message area's selector>);",
      "    //   if (errors.length > 0) screen.loginRefused(errors.join(' '));",
      "    // TODO: a sign that the sign-on worked, e.g. if (!(await screen.isVisible(<the menu>))) screen.unexpected('no menu after signing on');",
      '  },',
      '});',
      '',
    );
  } else {
    const inputs = form ? form.fields.filter((x) => x.type !== 'radio' && x.type !== 'file') : [];
    const inputKeys = new Names();
    const inputNames = new Map(inputs.map((x) => [x, inputKeys.take(x.name || x.label, 'field')]));
    out.push(
      'export default defineFlow({',
      `  description: ${q(`TODO: what this flow does (${form ? `form ${form.name}` : 'the page'} at ${path})`)},`,
      '  input: z.object({',
      ...inputs.map((x) => `    ${inputNames.get(x)}: ${zodOf(x)}, // ${fieldNote(x).replace(/\s+/g, ' ')}`),
      '  }),',
      '  // TODO: what the flow reads back (the binding maps it onto the contract)',
      '  output: z.object({',
      ...tableKeys.map((t) => `    ${t.key}: z.array(z.object({ ${t.columns.map((c) => `${c}: z.string()`).join(', ')} })),`),
      '  }),',
      `  async run(screen, ${inputs.length > 0 ? 'input' : '_input'}) {`,
      `    await screen.goto(${q(path)});`,
      ...inputs.map((x) => {
        const key = sel(fieldKeys.get(x)!);
        const value = `input.${inputNames.get(x)}`;
        if (x.type === 'checkbox') return `    await screen.tick(${key}, ${value});`;
        if (x.type === 'select') return `    await screen.choose(${key}, ${value});`;
        return `    await screen.fill(${key}, ${value});`;
      }),
      ...(buttonKeys[0] ? [`    await screen.click(${sel(buttonKeys[0])});`] : []),
      '    // TODO: the messages the screen shows (screen.readAll), and what they mean: screen.notFound(words), screen.refused(words)',
      ...tableKeys.map((t) => `    const ${t.key} = await screen.readTable(${sel(t.key)}, { ${t.columns.map((c, i) => `${c}: ${q(t.headers[i])}`).join(', ')} });`),
      `    return { ${tableKeys.map((t) => t.key).join(', ')} };`,
      '  },',
      '});',
      '',
    );
  }
  return { file: `${file}.ts`, kind: login ? 'login' : 'flow', text: out.join('\n'), selectors: Object.fromEntries(entries.map((e) => [e.key, e.selector])) };
}
