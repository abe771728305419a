/**
 * COBOL copybooks → the layout model: level numbers and group items, PIC X/A/9/S9/V (and edited
 * pictures, read as text), USAGE DISPLAY/COMP-3/COMP/BINARY/COMP-4/COMP-5, SIGN LEADING/TRAILING
 * [SEPARATE], OCCURS n and OCCURS m TO n DEPENDING ON, REDEFINES, FILLER, JUSTIFIED RIGHT and
 * level-88 conditions (an enum of the condition names, lower-cased). Fixed format (sequence area in
 * columns 1–6, indicator in 7, code in 8–72) and free format are both read.
 */
import { type Condition, type FieldItem, type GroupItem, type Item, type RecordLayout, buildLayout, jsonName, LayoutError } from './layout.ts';
import { parsePic, parseUsage, PicError, type Usage } from './pic.ts';

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

interface Entry {
  line: number;
  tokens: string[];
}

/** Source text → the code area, with comments dropped, each character keeping its line number. */
function codeArea(text: string): { chars: string; lines: number[] } {
  let chars = '';
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    let code: string;
    const fixed = raw.length >= 7 && /^[\d ]{6}$/.test(raw.slice(0, 6));
    if (fixed) {
      const indicator = raw[6];
      if (indicator === '*' || indicator === '/') return;
      code = raw.slice(7, 72);
    } else {
      code = raw;
      if (/^\s*\*/.test(code)) return;
    }
    const inline = code.indexOf('*>');
    if (inline >= 0) code = code.slice(0, inline);
    code += ' ';
    chars += code;
    for (let k = 0; k < code.length; k++) lines.push(i + 1);
  });
  return { chars, lines };
}

/** Splits the code into entries (sentences ending in a period), each a list of tokens. */
function entries(text: string): Entry[] {
  const { chars, lines } = codeArea(text);
  const out: Entry[] = [];
  let tokens: string[] = [];
  let startLine = 0;
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (tokens.length === 0) startLine = lines[i];
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      let lit = '';
      while (j < chars.length) {
        if (chars[j] === ch && chars[j + 1] === ch) {
          lit += ch;
          j += 2;
          continue;
        }
        if (chars[j] === ch) break;
        lit += chars[j];
        j++;
      }
      tokens.push(`'${lit}`); // a leading quote marks a literal
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < chars.length && !/\s/.test(chars[j])) j++;
    let word = chars.slice(i, j);
    i = j;
    const ends = word.endsWith('.') && (j >= chars.length || /\s/.test(chars[j]));
    if (ends) word = word.slice(0, -1);
    if (word) tokens.push(word);
    if (ends) {
      out.push({ line: startLine, tokens });
      tokens = [];
    }
  }
  if (tokens.length > 0) out.push({ line: startLine, tokens });
  return out;
}

interface Node {
  level: number;
  line: number;
  item: Item;
}

function literal(tok: string): string | number {
  if (tok.startsWith("'")) return tok.slice(1);
  const up = tok.toUpperCase();
  if (up === 'SPACE' || up === 'SPACES') return '';
  if (up === 'ZERO' || up === 'ZEROS' || up === 'ZEROES') return 0;
  const n = Number(tok);
  if (Number.isNaN(n)) throw new Error(`${tok} is not a literal`);
  return n;
}

function parseEntry(e: Entry, file: string): { level: number; item?: Item; condition?: Condition } {
  const t = e.tokens;
  const fail = (reason: string): never => {
    throw new CopybookError(file, e.line, reason);
  };
  const level = Number(t[0]);
  if (!Number.isInteger(level)) fail(`expected a level number, found "${t[0]}"`);
  const label = t[1] && !/^(PIC|PICTURE|REDEFINES|OCCURS|VALUE|USAGE)$/i.test(t[1]) ? t[1].toUpperCase() : 'FILLER';
  let k = label === 'FILLER' && t[1]?.toUpperCase() !== 'FILLER' ? 1 : 2;
  if (level === 66) fail('level 66 (RENAMES) is not supported; declare the fields it renames instead');
  if (level === 88) {
    const values: (string | number)[] = [];
    if (!/^VALUES?$/i.test(t[k] ?? '')) fail(`level 88 ${label} needs VALUE`);
    k++;
    if (/^(IS|ARE)$/i.test(t[k] ?? '')) k++;
    for (; k < t.length; k++) {
      if (/^(THRU|THROUGH)$/i.test(t[k])) fail(`level 88 ${label}: VALUE ... THRU ranges are not supported; list the values`);
      try {
        values.push(literal(t[k]));
      } catch {
        fail(`level 88 ${label}: ${t[k]} is not a literal`);
      }
    }
    if (values.length === 0) fail(`level 88 ${label} has no values`);
    return { level, condition: { name: label.toLowerCase(), values } };
  }
  if (!((level >= 1 && level <= 49) || level === 77)) fail(`level ${level} is not a COBOL data level (01–49, 66, 77, 88)`);
  let pic: string | undefined;
  let usage: Usage = 'display';
  let redefines: string | undefined;
  let occurs: { min: number; max: number; dependingOn?: string } | undefined;
  let signLeading = false;
  let signSeparate = false;
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
        while (k < t.length && !/^(PIC|PICTURE|USAGE|VALUE|INDEXED|ASCENDING|DESCENDING|SIGN|COMP.*|BINARY|DISPLAY|PACKED-DECIMAL|REDEFINES)$/i.test(t[k])) k++;
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
      k++;
      if (/^(IS|ARE)$/i.test(t[k] ?? '')) k++;
      k++; // the initial value does not change the layout
    } else if (w === 'JUSTIFIED' || w === 'JUST') {
      justify = 'right';
      k++;
      if (t[k]?.toUpperCase() === 'RIGHT') k++;
    } else if (w === 'SYNC' || w === 'SYNCHRONIZED' || w === 'GLOBAL' || w === 'EXTERNAL') {
      fail(`${label}: ${w} is not supported`);
    } else if (w === 'BLANK') {
      k += t[k + 1]?.toUpperCase() === 'WHEN' ? 3 : 2;
    } else {
      fail(`${label}: unexpected "${t[k]}"`);
    }
  }
  const name = label === 'FILLER' ? '' : jsonName(label);
  if (pic === undefined) {
    if (usage !== 'display') fail(`${label}: USAGE ${usage.toUpperCase()} on a group is not supported; put it on the elementary items`);
    const group: GroupItem = { kind: 'group', name, label, children: [], occurs, redefines, offset: 0, size: 0 };
    return { level, item: group };
  }
  let parsed;
  try {
    parsed = parsePic(pic);
  } catch (err) {
    return fail(`${label}: ${err instanceof PicError ? err.message : String(err)}`);
  }
  if (parsed.kind === 'alnum' && usage !== 'display') fail(`${label}: PIC ${pic} cannot be ${usage.toUpperCase()}`);
  const field: FieldItem = {
    kind: 'field',
    name,
    label,
    pic: parsed,
    usage,
    occurs,
    redefines,
    justify,
    truncate: 'refuse',
    offset: 0,
    size: 0,
    ...(parsed.signed && signSeparate ? { signSeparate: signLeading ? 'leading' : 'trailing' } : {}),
    ...(parsed.signed && signLeading && !signSeparate ? { signLeading: true } : {}),
  };
  return { level, item: field };
}

/**
 * Parses a copybook into one layout per 01-level record (or one layout named `name` when the
 * copybook has no 01 level). `file` is used in error messages.
 */
export function parseCopybook(text: string, file: string, name = 'record'): RecordLayout[] {
  const records: { label: string; line: number; items: Item[] }[] = [];
  const stack: Node[] = [];
  let current: { label: string; line: number; items: Item[] } | undefined;
  let lastField: { node: Node } | undefined;
  for (const e of entries(text)) {
    const parsed = parseEntry(e, file);
    if (parsed.condition) {
      const target = lastField?.node.item;
      if (!target || target.kind !== 'field') throw new CopybookError(file, e.line, `level 88 ${parsed.condition.name.toUpperCase()} must follow an elementary item`);
      target.conditions = [...(target.conditions ?? []), parsed.condition];
      continue;
    }
    const item = parsed.item!;
    const level = parsed.level === 77 ? 1 : parsed.level;
    if (level === 1) {
      stack.length = 0;
      if (item.kind === 'group') {
        current = { label: item.label, line: e.line, items: item.children };
        records.push(current);
        stack.push({ level, line: e.line, item });
        lastField = undefined;
        continue;
      }
      current = { label: item.label, line: e.line, items: [item] };
      records.push(current);
      lastField = { node: { level, line: e.line, item } };
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1].level >= level) stack.pop();
    const parent = stack[stack.length - 1];
    const node: Node = { level, line: e.line, item };
    if (parent) {
      if (parent.item.kind !== 'group') throw new CopybookError(file, e.line, `${item.label} is under elementary item ${parent.item.label}`);
      parent.item.children.push(item);
    } else {
      if (!current) {
        current = { label: name.toUpperCase(), line: e.line, items: [] };
        records.push(current);
      }
      current.items.push(item);
    }
    if (item.kind === 'group') stack.push(node);
    lastField = { node };
  }
  if (records.length === 0) throw new CopybookError(file, 1, 'no data items found');
  return records.map((r) => {
    try {
      return buildLayout(records.length === 1 && r.label === name.toUpperCase() ? name : jsonName(r.label), r.items);
    } catch (err) {
      if (err instanceof LayoutError || err instanceof PicError) throw new CopybookError(file, r.line, err.message);
      throw err;
    }
  });
}
