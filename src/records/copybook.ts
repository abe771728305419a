/**
 * COBOL copybooks → the layout model: level numbers and group items, PIC X/A/9/S9/V/P, N and G (and
 * edited pictures, read as text), USAGE DISPLAY/COMP-3/COMP/BINARY/COMP-4/COMP-5/COMP-1/COMP-2/
 * POINTER/INDEX (on an item or inherited from its group), SIGN LEADING/TRAILING [SEPARATE],
 * SYNCHRONIZED, OCCURS n and OCCURS m TO n DEPENDING ON (several, anywhere), REDEFINES, FILLER,
 * JUSTIFIED RIGHT, level-88 conditions (values, hexadecimal literals, THRU ranges; an enum of the
 * condition names, lower-cased), level 66 RENAMES (accepted; it adds no bytes and no key) and COPY
 * statements (with REPLACING), looked up in the copybook folders given.
 *
 * Source format: fixed (sequence area in columns 1–6, whatever it holds; indicator in 7: `*` and `/`
 * comments, `D` debugging lines read as comments, `-` continuation; code in 8–72) when every line
 * fits it, else free. A DOS end-of-file byte (0x1A) is ignored; tabs stop every 8 columns.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Condition, type FieldItem, type GroupItem, type Item, type RecordLayout, buildLayout, jsonName, LayoutError } from './layout.ts';
import { implicitPic, parsePic, parseUsage, PicError, type Sizing, type Usage } from './pic.ts';

export class CopybookError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'CopybookError';
  }
}

export interface CopybookOptions {
  /** Folders searched, in order, for the copybooks named in COPY statements. */
  copyDirs?: readonly string[];
  /** The binary and pointer sizes of the COBOL that wrote the files (IBM's by default): see `Sizing` in pic.ts. */
  sizing?: Sizing;
}

/** A token: a word, a literal (`'…`), a hexadecimal literal (`#F1`), pseudo-text (`=…`) or the end of a sentence (`.`). */
interface Token {
  t: string;
  line: number;
  file: string;
}

interface Entry {
  line: number;
  file: string;
  tokens: string[];
}

function expandTabs(line: string): string {
  if (!line.includes('\t')) return line;
  let out = '';
  for (const ch of line) {
    if (ch === '\t') out += ' '.repeat(8 - (out.length % 8));
    else out += ch;
  }
  return out;
}

/** Whether every line fits the fixed format: an indicator COBOL knows in column 7. */
function isFixed(lines: readonly string[]): boolean {
  let seen = false;
  for (const l of lines) {
    if (l.trim() === '') continue;
    if (l.length < 7) {
      if (/\S/.test(l) && !/^[\s\S]{0,6}$/.test(l)) return false;
      continue;
    }
    if (!' *-/Dd$'.includes(l[6])) return false;
    seen = true;
  }
  return seen;
}

/** Source text → the code area, with comments dropped and continued lines joined, each character keeping its line number. */
function codeArea(text: string, format: 'fixed' | 'free' | undefined): { chars: string; lines: number[] } {
  const eof = text.indexOf('\u001a'); // a DOS end-of-file byte: nothing after it counts
  const raw = (eof >= 0 ? text.slice(0, eof) : text).split(/\r\n|\r|\n/).map(expandTabs);
  const fixed = format ? format === 'fixed' : isFixed(raw);
  let chars = '';
  const lines: number[] = [];
  const push = (s: string, line: number) => {
    chars += s;
    for (let k = 0; k < s.length; k++) lines.push(line);
  };
  raw.forEach((l, i) => {
    let code: string;
    if (fixed) {
      const indicator = l[6] ?? ' ';
      if (indicator === '*' || indicator === '/' || indicator === 'D' || indicator === 'd' || indicator === '$') return;
      code = l.slice(7, 72).padEnd(65, ' ');
      if (indicator === '-') {
        // A continuation line: the literal (or word) of the line before goes on after the first quote (or first character).
        const body = code.replace(/\s+$/, '');
        const first = body.search(/\S/);
        if (first < 0) return;
        if (chars.endsWith(' ')) {
          chars = chars.slice(0, -1);
          lines.pop();
        }
        if (body[first] === "'" || body[first] === '"') {
          push(body.slice(first + 1) + ' ', i + 1);
        } else {
          const trimmed = chars.replace(/\s+$/, '');
          lines.length = trimmed.length;
          chars = trimmed;
          push(body.slice(first) + ' ', i + 1);
        }
        return;
      }
    } else {
      code = l;
      if (/^\s*\*/.test(code)) return;
    }
    const inline = inlineComment(code);
    if (inline >= 0) code = code.slice(0, inline);
    push(code + ' ', i + 1);
  });
  return { chars, lines };
}

/** Where a `*>` comment starts, outside literals; -1 if none. */
function inlineComment(code: string): number {
  let quote = '';
  for (let i = 0; i < code.length - 1; i++) {
    const ch = code[i];
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '*' && code[i + 1] === '>') return i;
  }
  return -1;
}

const SEPARATOR = /[\s,;]/;

function tokenize(text: string, file: string, area = true, format?: 'fixed' | 'free'): Token[] {
  const { chars, lines } = area ? codeArea(text, format) : { chars: text + ' ', lines: [] as number[] };
  const out: Token[] = [];
  const lineAt = (i: number) => lines[i] ?? 0;
  let i = 0;
  const endsSentence = (j: number) => chars[j] === '.' && (j + 1 >= chars.length || /\s/.test(chars[j + 1]));
  while (i < chars.length) {
    const ch = chars[i];
    if (/\s/.test(ch) || ((ch === ',' || ch === ';') && (i + 1 >= chars.length || SEPARATOR.test(chars[i + 1]) || chars[i + 1] === "'" || chars[i + 1] === '"'))) {
      i++;
      continue;
    }
    if (endsSentence(i)) {
      out.push({ t: '.', line: lineAt(i), file });
      i++;
      continue;
    }
    const line = lineAt(i);
    if (ch === '=' && chars[i + 1] === '=') {
      const close = chars.indexOf('==', i + 2);
      const stop = close < 0 ? chars.length : close;
      out.push({ t: `=${chars.slice(i + 2, stop)}`, line, file });
      i = stop + 2;
      continue;
    }
    const prefixed = /[XxNnGgZz]/.test(ch) && (chars[i + 1] === "'" || chars[i + 1] === '"') && (i === 0 || SEPARATOR.test(chars[i - 1]));
    if (ch === "'" || ch === '"' || prefixed) {
      const q = prefixed ? chars[i + 1] : ch;
      let j = prefixed ? i + 2 : i + 1;
      let lit = '';
      while (j < chars.length) {
        if (chars[j] === q && chars[j + 1] === q) {
          lit += q;
          j += 2;
          continue;
        }
        if (chars[j] === q) break;
        lit += chars[j];
        j++;
      }
      out.push({ t: prefixed && /[Xx]/.test(ch) ? `#${lit.replace(/\s/g, '').toUpperCase()}` : `'${lit}`, line, file }); // a leading quote marks a literal
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < chars.length && !/\s/.test(chars[j]) && !endsSentence(j) && !(chars[j] === ',' && SEPARATOR.test(chars[j + 1] ?? ' '))) {
      if ((chars[j] === "'" || chars[j] === '"') && j > i) break;
      j++;
    }
    const word = chars.slice(i, j);
    if (!/^(EJECT|SKIP[123])$/i.test(word)) out.push({ t: word, line, file });
    i = j;
  }
  return out;
}

interface Replacement {
  from: string[];
  to: string[];
  mode: 'full' | 'leading' | 'trailing';
}

function operand(tok: string): string[] {
  if (tok.startsWith('=')) return tokenize(tok.slice(1), '', false).map((x) => x.t);
  return [tok];
}

const same = (a: string, b: string) => (a.startsWith("'") || b.startsWith("'") ? a === b : a.toUpperCase() === b.toUpperCase());

function applyReplacing(tokens: Token[], reps: readonly Replacement[]): Token[] {
  if (reps.length === 0) return tokens;
  const out: Token[] = [];
  for (let i = 0; i < tokens.length;) {
    let done = false;
    for (const r of reps) {
      if (r.mode === 'full' && r.from.length > 0 && r.from.every((f, k) => tokens[i + k] && same(tokens[i + k].t, f))) {
        for (const t of r.to) out.push({ ...tokens[i], t });
        i += r.from.length;
        done = true;
        break;
      }
    }
    if (done) continue;
    let t = tokens[i].t;
    if (!t.startsWith("'") && !t.startsWith('#')) {
      for (const r of reps) {
        if (r.from.length !== 1) continue;
        const f = r.from[0].toUpperCase();
        const to = r.to.join(' ');
        const up = t.toUpperCase();
        if (r.mode === 'leading' && up.startsWith(f)) t = to + t.slice(f.length);
        else if (r.mode === 'trailing' && up.endsWith(f)) t = t.slice(0, t.length - f.length) + to;
        else if (r.mode === 'full' && f.startsWith(':') && f.endsWith(':') && up.includes(f)) t = t.split(new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi')).join(to);
      }
    }
    out.push({ ...tokens[i], t });
    i++;
  }
  return out;
}

function findCopybook(name: string, dirs: readonly string[]): string | undefined {
  const candidates = [name, `${name}.cpy`, `${name}.cbl`, `${name}.cob`, `${name}.copy`].map((c) => c.toLowerCase());
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir);
    for (const c of candidates) {
      const hit = files.find((f) => f.toLowerCase() === c);
      if (hit) return join(dir, hit);
    }
  }
  return undefined;
}

/** Expands COPY statements (with REPLACING) in a token list, recursively. */
function expandCopies(tokens: Token[], options: CopybookOptions, depth: number): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok.t.toUpperCase() !== 'COPY') {
      out.push(tok);
      continue;
    }
    const fail = (reason: string): never => {
      throw new CopybookError(tok.file, tok.line, reason);
    };
    let k = i + 1;
    const nameTok = tokens[k++];
    if (!nameTok || nameTok.t === '.') fail('COPY without a copybook name');
    const name = nameTok.t.startsWith("'") ? nameTok.t.slice(1) : nameTok.t;
    if (tokens[k] && /^(OF|IN)$/i.test(tokens[k].t)) k += 2; // the library: the folders stand for it
    if (tokens[k] && /^SUPPRESS$/i.test(tokens[k].t)) k++;
    const reps: Replacement[] = [];
    if (tokens[k] && /^REPLACING$/i.test(tokens[k].t)) {
      k++;
      while (k < tokens.length && tokens[k].t !== '.') {
        let mode: Replacement['mode'] = 'full';
        if (/^(LEADING|TRAILING)$/i.test(tokens[k].t)) mode = tokens[k++].t.toLowerCase() as Replacement['mode'];
        const from = tokens[k++];
        if (!tokens[k] || !/^BY$/i.test(tokens[k].t)) fail(`COPY ${name} REPLACING: expected BY after ${from.t.replace(/^[=']/, '')}`);
        k++;
        const to = tokens[k++];
        if (!from || !to) fail(`COPY ${name} REPLACING: incomplete`);
        reps.push({ from: operand(from.t), to: operand(to.t), mode });
      }
    }
    if (tokens[k]?.t !== '.') fail(`COPY ${name}: expected a period after the statement`);
    if (depth > 20) fail(`COPY ${name}: nested more than 20 deep (does it copy itself?)`);
    const dirs = options.copyDirs ?? [];
    const path = findCopybook(name, dirs);
    if (!path) fail(`COPY ${name}: no such copybook in ${dirs.length ? dirs.join(', ') : '(no copybook folders given)'}; name its folder in the layout (copybooks: [folder])`);
    const inner = expandCopies(tokenize(readFileSync(path!, 'latin1'), name), options, depth + 1);
    out.push(...applyReplacing(inner, reps));
    i = k;
  }
  return out;
}

/** Splits the code into entries (sentences ending in a period), each a list of tokens. */
function entries(text: string, file: string, options: CopybookOptions, format?: 'fixed' | 'free'): Entry[] {
  const tokens = expandCopies(tokenize(text, file, true, format), options, 0);
  const out: Entry[] = [];
  let cur: Entry | undefined;
  for (const tok of tokens) {
    if (tok.t === '.') {
      if (cur) out.push(cur);
      cur = undefined;
      continue;
    }
    cur ??= { line: tok.line, file: tok.file, tokens: [] };
    cur.tokens.push(tok.t);
  }
  if (cur) out.push(cur);
  return out;
}

interface Node {
  level: number;
  line: number;
  item: Item;
  usage?: Usage;
  sync?: boolean;
}

const FIGURATIVE: Record<string, string | number> = {
  SPACE: '',
  SPACES: '',
  ZERO: 0,
  ZEROS: 0,
  ZEROES: 0,
};

type Literal = { text: string | number } | { hex: string };

function literal(tok: string): Literal {
  if (tok.startsWith("'")) return { text: tok.slice(1) };
  if (tok.startsWith('#')) return { hex: tok.slice(1) };
  const up = tok.toUpperCase();
  if (up in FIGURATIVE) return { text: FIGURATIVE[up] };
  if (/^(HIGH-VALUES?)$/.test(up)) return { hex: 'FF' };
  if (/^(LOW-VALUES?|NULLS?)$/.test(up)) return { hex: '00' };
  if (/^QUOTES?$/.test(up)) return { text: '"' };
  const n = Number(tok.replace(/,/g, '.'));
  if (Number.isNaN(n) || tok === '') throw new Error(`${tok} is not a literal`);
  return { text: n };
}

const CLAUSE = /^(PIC|PICTURE|REDEFINES|OCCURS|VALUE|VALUES|USAGE|SIGN|SYNC|SYNCHRONIZED|JUST|JUSTIFIED|BLANK|GLOBAL|EXTERNAL|LEADING|TRAILING|RENAMES|IS)$/i;

interface ParsedItem {
  level: number;
  item?: Item;
  condition?: Condition;
  renames?: true;
  usage?: Usage;
  sync?: boolean;
}

function parseEntry(e: Entry): ParsedItem {
  const t = e.tokens;
  const fail = (reason: string): never => {
    throw new CopybookError(e.file, e.line, reason);
  };
  const level = Number(t[0]);
  if (!/^\d{1,2}$/.test(t[0]) || !Number.isInteger(level)) fail(`expected a level number, found "${t[0]}"`);
  const named = t[1] !== undefined && !CLAUSE.test(t[1]) && !parseUsage(t[1]) && !t[1].startsWith("'");
  const label = named ? t[1].toUpperCase() : 'FILLER';
  let k = named ? 2 : 1;
  if (level === 66) {
    if (!/^RENAMES$/i.test(t[k] ?? '')) fail(`level 66 ${label} needs RENAMES`);
    return { level, renames: true };
  }
  if (level === 88) {
    const values: (string | number)[] = [];
    const hex: string[] = [];
    const ranges: [string | number, string | number][] = [];
    if (!/^VALUES?$/i.test(t[k] ?? '')) fail(`level 88 ${label} needs VALUE`);
    k++;
    if (/^(IS|ARE)$/i.test(t[k] ?? '')) k++;
    const lit = (tok: string | undefined): Literal => {
      try {
        if (tok === undefined) throw new Error('');
        return literal(/^ALL$/i.test(tok) ? (t[++k] ?? '') : tok);
      } catch {
        return fail(`level 88 ${label}: ${tok ?? '(nothing)'} is not a literal`);
      }
    };
    for (; k < t.length; k++) {
      if (/^(WHEN|SET|TO|FALSE)$/i.test(t[k])) break; // WHEN SET TO FALSE: not a value of the condition
      const v = lit(t[k]);
      if (/^(THRU|THROUGH)$/i.test(t[k + 1] ?? '')) {
        k += 2;
        const hi = lit(t[k]);
        if ('text' in v && 'text' in hi) ranges.push([v.text, hi.text]);
        continue;
      }
      if ('hex' in v) hex.push(v.hex);
      else values.push(v.text);
    }
    if (values.length + hex.length + ranges.length === 0) fail(`level 88 ${label} has no values`);
    return {
      level,
      condition: {
        name: label.toLowerCase(),
        values: values.length === 0 && ranges.length > 0 ? [ranges[0][0]] : values,
        ...(ranges.length ? { ranges } : {}),
        ...(hex.length ? { hex } : {}),
      },
    };
  }
  if (!((level >= 1 && level <= 49) || level === 77)) fail(`level ${level} is not a COBOL data level (01–49, 66, 77, 88)`);
  let pic: string | undefined;
  let usage: Usage | undefined;
  let redefines: string | undefined;
  let occurs: { min: number; max: number; dependingOn?: string } | undefined;
  let signLeading = false;
  let signSeparate = false;
  let sync = false;
  let justify: 'left' | 'right' = 'left';
  while (k < t.length) {
    const w = t[k].toUpperCase();
    if (w === 'PIC' || w === 'PICTURE') {
      k++;
      if (t[k]?.toUpperCase() === 'IS') k++;
      pic = t[k++];
      if (!pic) fail(`${label}: PIC without a picture`);
    } else if (w === 'USAGE') {
      k++;
      if (t[k]?.toUpperCase() === 'IS') k++;
    } else if (parseUsage(w)) {
      usage = parseUsage(w)!;
      k++;
    } else if (w === 'REDEFINES') {
      redefines = t[k + 1]?.toUpperCase();
      if (!redefines) fail(`${label}: REDEFINES without a name`);
      k += 2;
    } else if (w === 'OCCURS') {
      const min = Number(t[k + 1]);
      if (!Number.isInteger(min)) fail(`${label}: OCCURS needs a number, found "${t[k + 1]}"`);
      k += 2;
      let max = min;
      if (t[k]?.toUpperCase() === 'TO') {
        max = Number(t[k + 1]);
        if (!Number.isInteger(max) || max < min) fail(`${label}: OCCURS ${min} TO ${t[k + 1]} is not a range`);
        k += 2;
      }
      if (t[k]?.toUpperCase() === 'TIMES') k++;
      let dependingOn: string | undefined;
      if (t[k]?.toUpperCase() === 'DEPENDING') {
        k++;
        if (t[k]?.toUpperCase() === 'ON') k++;
        dependingOn = t[k++]?.toUpperCase();
        if (!dependingOn) fail(`${label}: DEPENDING ON without a field`);
      } else if (max !== min) fail(`${label}: OCCURS ${min} TO ${max} needs DEPENDING ON`);
      if (max < 1) fail(`${label}: OCCURS must be at least 1`);
      occurs = { min, max, dependingOn };
      // INDEXED BY / ASCENDING KEY IS: names only, nothing to lay out
      while (k < t.length && /^(INDEXED|ASCENDING|DESCENDING|KEY|IS|BY)$/i.test(t[k])) {
        k++;
        while (k < t.length && !/^(PIC|PICTURE|USAGE|VALUE|INDEXED|ASCENDING|DESCENDING|SIGN|SYNC|SYNCHRONIZED|REDEFINES|JUST|JUSTIFIED)$/i.test(t[k]) && !parseUsage(t[k])) k++;
      }
    } else if (w === 'SIGN') {
      k++;
      if (t[k]?.toUpperCase() === 'IS') k++;
      signLeading = t[k]?.toUpperCase() === 'LEADING';
      k++;
      if (t[k]?.toUpperCase() === 'SEPARATE') {
        signSeparate = true;
        k++;
        if (t[k]?.toUpperCase() === 'CHARACTER') k++;
      }
    } else if (w === 'LEADING' || w === 'TRAILING') {
      signLeading = w === 'LEADING';
      k++;
      if (t[k]?.toUpperCase() === 'SEPARATE') {
        signSeparate = true;
        k++;
        if (t[k]?.toUpperCase() === 'CHARACTER') k++;
      }
    } else if (w === 'VALUE' || w === 'VALUES') {
      // The initial value does not change the layout.
      k++;
      if (/^(IS|ARE)$/i.test(t[k] ?? '')) k++;
      if (/^ALL$/i.test(t[k] ?? '')) k++;
      k++;
    } else if (w === 'JUSTIFIED' || w === 'JUST') {
      justify = 'right';
      k++;
      if (t[k]?.toUpperCase() === 'RIGHT') k++;
    } else if (w === 'SYNC' || w === 'SYNCHRONIZED') {
      sync = true;
      k++;
      if (/^(LEFT|RIGHT)$/i.test(t[k] ?? '')) k++;
    } else if (w === 'GLOBAL' || w === 'EXTERNAL' || w === 'IS') {
      k++;
    } else if (w === 'BLANK') {
      k += t[k + 1]?.toUpperCase() === 'WHEN' ? 3 : 2;
    } else {
      fail(`${label}: unexpected "${t[k]}"`);
    }
  }
  const name = label === 'FILLER' ? '' : jsonName(label);
  const implicit = pic === undefined && usage ? implicitPic(usage) : undefined;
  if (pic === undefined && !implicit) {
    const group: GroupItem = { kind: 'group', name, label, children: [], occurs, redefines, offset: 0, size: 0 };
    return { level, item: group, usage, sync };
  }
  let parsed;
  try {
    parsed = implicit ?? parsePic(pic!);
  } catch (err) {
    return fail(`${label}: ${err instanceof PicError ? err.message : String(err)}`);
  }
  if (parsed.kind !== 'numeric' && usage !== undefined && usage !== 'display') fail(`${label}: PIC ${pic} cannot be ${usage.toUpperCase()}`);
  const field: FieldItem = {
    kind: 'field',
    name,
    label,
    pic: parsed,
    usage: usage ?? 'display',
    occurs,
    redefines,
    justify,
    truncate: 'refuse',
    offset: 0,
    size: 0,
    ...(sync ? { sync } : {}),
    ...(parsed.signed && signSeparate ? { signSeparate: signLeading ? 'leading' : 'trailing' } : {}),
    ...(parsed.signed && signLeading && !signSeparate ? { signLeading: true } : {}),
  };
  return { level, item: field, usage, sync };
}

/** A data item of a parsed copybook, in declaration order (level-88 and level-66 entries left out). */
export interface ParsedEntry {
  label: string;
  level: number;
  /** Offset from its record's start (every table before it at its maximum). */
  offset: number;
  /** Bytes, every occurrence counted. */
  size: number;
  /** Bytes of one occurrence. */
  one: number;
  /** Offset of the top-level item it belongs to. */
  topOffset: number;
}

/**
 * Parses a copybook into one layout per 01-level record (or one layout named `name` when the
 * copybook has no 01 level). `file` is used in error messages.
 */
export function parseCopybook(text: string, file: string, name = 'record', options: CopybookOptions = {}): RecordLayout[] {
  return parseCopybookDetailed(text, file, options, name).layouts;
}

/** parseCopybook, with every data item's offset and size listed as well (for comparing with a compiler's). */
export function parseCopybookDetailed(text: string, file: string, options: CopybookOptions = {}, name = 'record'): { layouts: RecordLayout[]; entries: ParsedEntry[] } {
  try {
    return parseIn(text, file, options, name);
  } catch (err) {
    // A copybook that looks fixed but is not (code past column 72, say) is read again as free format, as a compiler told -free would.
    if (!(err instanceof CopybookError) || !isFixed(text.split(/\r\n|\r|\n/).map(expandTabs))) throw err;
    try {
      return parseIn(text, file, options, name, 'free');
    } catch {
      throw err;
    }
  }
}

function parseIn(text: string, file: string, options: CopybookOptions, name: string, format?: 'fixed' | 'free'): { layouts: RecordLayout[]; entries: ParsedEntry[] } {
  const records: { label: string; line: number; items: Item[]; group: boolean; file: string }[] = [];
  const stack: Node[] = [];
  const levels = new Map<Item, number>();
  let current: (typeof records)[number] | undefined;
  let lastField: Item | undefined;
  for (const e of entries(text, file, options, format)) {
    const parsed = parseEntry(e);
    if (parsed.renames) continue;
    if (parsed.condition) {
      if (lastField && lastField.kind === 'field') lastField.conditions = [...(lastField.conditions ?? []), parsed.condition];
      else if (!lastField) throw new CopybookError(e.file, e.line, `level 88 ${parsed.condition.name.toUpperCase()} must follow a data item`);
      continue; // a condition on a group: accepted, not decoded
    }
    const item = parsed.item!;
    const level = parsed.level === 77 ? 1 : parsed.level;
    levels.set(item, parsed.level);
    if (level === 1) {
      stack.length = 0;
      current = { label: item.label, line: e.line, items: item.kind === 'group' ? item.children : [item], group: item.kind === 'group', file: e.file };
      records.push(current);
      if (item.kind === 'group') stack.push({ level, line: e.line, item, usage: parsed.usage, sync: parsed.sync });
      lastField = item;
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1].level >= level) stack.pop();
    const parent = stack[stack.length - 1];
    const inherited = parent?.usage;
    if (item.kind === 'field') {
      if (!parsed.usage && inherited && inherited !== 'display') {
        if (item.pic.kind === 'numeric') item.usage = inherited;
        else if (implicitPic(inherited) === undefined) throw new CopybookError(e.file, e.line, `${item.label}: PIC ${item.pic.text} cannot be ${inherited.toUpperCase()} (the USAGE of its group)`);
      }
      if (parent?.sync) item.sync = true;
    }
    const node: Node = { level, line: e.line, item, usage: parsed.usage ?? inherited, sync: parsed.sync || parent?.sync };
    if (parent) {
      if (parent.item.kind !== 'group') throw new CopybookError(e.file, e.line, `${item.label} is under elementary item ${parent.item.label}`);
      parent.item.children.push(item);
    } else {
      if (!current) {
        current = { label: name.toUpperCase(), line: e.line, items: [], group: false, file: e.file };
        records.push(current);
      }
      current.items.push(item);
    }
    if (item.kind === 'group') stack.push(node);
    lastField = item;
  }
  if (records.length === 0) throw new CopybookError(file, 1, 'no data items found');
  const layouts = records.map((r) => {
    try {
      return buildLayout(records.length === 1 && r.label === name.toUpperCase() ? name : jsonName(r.label), r.items, options.sizing);
    } catch (err) {
      if (err instanceof LayoutError || err instanceof PicError) throw new CopybookError(r.file, r.line, err.message);
      throw err;
    }
  });
  const list: ParsedEntry[] = [];
  const walk = (items: readonly Item[], base: number, top: number | undefined) => {
    for (const item of items) {
      const offset = base + item.offset;
      const t = top ?? offset;
      list.push({ label: item.label, level: levels.get(item) ?? 0, offset, size: item.size * (item.occurs?.max ?? 1), one: item.size, topOffset: t });
      if (item.kind === 'group') walk(item.children, offset, t);
    }
  };
  records.forEach((r, i) => {
    if (r.group) {
      list.push({ label: r.label, level: 1, offset: 0, size: layouts[i].length, one: layouts[i].length, topOffset: 0 });
      walk(r.items, 0, 0);
    } else walk(r.items, 0, undefined);
  });
  return { layouts, entries: list };
}
