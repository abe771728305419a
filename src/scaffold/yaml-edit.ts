/**
 * Adding to a YAML file someone keeps by hand (openapi.yaml, adapter.yaml) without touching the rest
 * of it: the file is read with the `yaml` package's Document API to find where a map is (its
 * offsets in the text), and the new entries are spliced in as text at the end of that map, in its
 * indentation; every other byte (comments, quoting, flow style, blank lines) stays as it was.
 * New entries are written by the same package from nodes carrying their comments.
 */
import { Document, isMap, isPair, isScalar, parseDocument, type Node, type YAMLMap } from 'yaml';

export class YamlEditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlEditError';
  }
}

/** `[ a, b ]` → `[a, b]` outside quotes and comments (the yaml package pads flow sequences; the project's files do not). */
export function tidyFlowSequences(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let out = '';
      let quote: string | undefined;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (quote) {
          out += ch;
          if (ch === quote) quote = undefined;
          continue;
        }
        if (ch === "'" || ch === '"') quote = ch;
        if (ch === '#' && (i === 0 || line[i - 1] === ' ')) return out + line.slice(i);
        if (ch === '[' && line[i + 1] === ' ') {
          out += '[';
          i++;
          continue;
        }
        if (ch === ' ' && line[i + 1] === ']') continue;
        out += ch;
      }
      return out;
    })
    .join('\n');
}

/**
 * The YAML text of a value built as nodes (so that they can carry comments and flow style), as the
 * project's files are written: single quotes, `{ a: 1 }` maps, `[a, b]` sequences, no line folding.
 */
export function yamlText(build: (doc: Document) => Node): string {
  const doc = new Document();
  doc.contents = build(doc);
  return tidyFlowSequences(doc.toString({ lineWidth: 0, singleQuote: true, flowCollectionPadding: true }));
}

/** Maps of at most four scalar entries, and sequences of scalars, in flow style (`{ type: string }`, `[a, b]`). */
export function flowLeaves(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { items?: unknown[]; flow?: boolean };
  if (!Array.isArray(n.items)) return;
  const values = n.items.map((i) => (isPair(i) ? i.value : i));
  const scalarOnly = values.every((v) => isScalar(v) || v === null);
  if (scalarOnly && (isMap(node) ? n.items.length <= 4 : true) && n.items.length > 0) {
    n.flow = true;
    return;
  }
  for (const v of values) flowLeaves(v);
}

function indentOf(text: string, offset: number): number {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let n = 0;
  while (text[lineStart + n] === ' ') n++;
  return n;
}

const indent = (block: string, n: number) =>
  block
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => (l === '' ? l : ' '.repeat(n) + l))
    .join('\n');

type Found = { kind: 'map'; map: YAMLMap } | { kind: 'empty'; node: Node } | { kind: 'none' };

/** What is at `path`: a map, an empty value (`key:` or `key: ~`), or nothing; throws when it is something else. */
function at(doc: Document, path: readonly string[]): Found {
  const node = (path.length === 0 ? doc.contents : doc.getIn(path, true)) as Node | null | undefined;
  if (node === undefined || node === null) return { kind: 'none' };
  if (isScalar(node) && (node.value === null || node.value === undefined || node.value === '')) return { kind: 'empty', node };
  if (!isMap(node)) throw new YamlEditError(`${path.join('.') || '(top level)'} is not a map`);
  return { kind: 'map', map: node };
}

/**
 * Adds `entries` (each the YAML text of `key: value` lines at indentation 0, with their comments) at
 * the end of the map at `path`, creating the maps on the way where missing. Returns the new text.
 */
export function addEntries(text: string, path: readonly string[], entries: string[]): string {
  if (entries.length === 0) return text;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new YamlEditError(`not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  // The deepest part of the path that is there.
  let depth = path.length;
  let found = at(doc, path);
  while (found.kind === 'none' && depth > 0) {
    depth--;
    found = at(doc, path.slice(0, depth));
  }
  const where = path.slice(0, depth).join('.') || '(top level)';
  // What is missing of the path is made around the entries: `a:\n  b:\n    <entries>`.
  let block = entries.map((e) => e.replace(/\n+$/, '')).join('\n');
  for (let i = path.length - 1; i >= depth; i--) block = `${path[i]}:\n${indent(block, 2)}`;

  if (found.kind === 'none') return `${text.replace(/\s*$/, '')}${text.trim() === '' ? '' : '\n'}${block}\n`;
  const node = found.kind === 'map' ? found.map : found.node;
  const range = node.range;
  if (!range) throw new YamlEditError(`cannot place the new entries in ${where}`);
  if (found.kind === 'empty' || (found.kind === 'map' && found.map.flow)) {
    if (found.kind === 'map' && found.map.items.length > 0) throw new YamlEditError(`${where} is written as a flow map ({ … }): write it as a block map first`);
    // `key: {}` or `key:` → `key:\n  <block>`, two more than the key's own indentation.
    const keyIndent = depth === 0 ? -2 : indentOf(text, range[0]);
    const before = text.slice(0, range[0]).replace(/[ \t]+$/, '');
    const after = text.slice(range[1]);
    return `${before}${before.endsWith('\n') ? '' : '\n'}${indent(block, keyIndent + 2)}${after.startsWith('\n') ? '' : '\n'}${after}`;
  }
  const map = found.map;
  const first = map.items[0]?.key as Node | undefined;
  const itemIndent = first?.range ? indentOf(text, first.range[0]) : 0;
  // After the map's last value, at the start of the next line.
  let end = range[1];
  if (text[end - 1] !== '\n') {
    const nl = text.indexOf('\n', end);
    end = nl < 0 ? text.length : nl + 1;
  }
  const head = text.slice(0, end);
  return `${head}${head.endsWith('\n') || head === '' ? '' : '\n'}${indent(block, itemIndent)}\n${text.slice(end)}`;
}
