/**
 * Where a JSON pointer of a contract is written: the file and line, following `$ref`s across the
 * files of a multi-file document as they were before bundling. For start-up errors that name file,
 * pointer and line.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

export interface SourcePlace {
  file: string;
  /** The JSON pointer inside that file, e.g. `/paths/~1pets/get`. */
  pointer: string;
  line?: number;
}

export function pointerTokens(pointer: string): string[] {
  if (pointer === '' || pointer === '#') return [];
  return pointer
    .replace(/^#/, '')
    .split('/')
    .slice(1)
    .map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function pointerOf(tokens: readonly string[]): string {
  return tokens.map((t) => `/${t.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface Parsed {
  value: unknown;
  doc: ReturnType<typeof parseDocument>;
  lines: LineCounter;
}

export class SourceLines {
  private readonly files = new Map<string, Parsed | null>();

  private parsed(file: string): Parsed | null {
    let p = this.files.get(file);
    if (p === undefined) {
      try {
        const lines = new LineCounter();
        const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
        p = { value: doc.toJS() as unknown, doc, lines };
      } catch {
        p = null;
      }
      this.files.set(file, p);
    }
    return p;
  }

  /** The file, pointer and line of `pointer` (of the bundled document whose root is `rootFile`). */
  place(rootFile: string, pointer: string): SourcePlace {
    let file = rootFile;
    let at: string[] = [];
    let node = this.parsed(file)?.value;
    for (const token of pointerTokens(pointer)) {
      // Where the original has a $ref, the bundled document has what it points to: follow it.
      for (let hops = 0; hops < 16; hops++) {
        const ref = node && typeof node === 'object' ? (node as { $ref?: unknown }).$ref : undefined;
        if (typeof ref !== 'string') break;
        const hash = ref.indexOf('#');
        const filePart = hash === -1 ? ref : ref.slice(0, hash);
        const ptr = hash === -1 ? '' : ref.slice(hash + 1);
        if (filePart !== '') file = resolve(dirname(file), decodeURI(filePart));
        at = pointerTokens(ptr);
        node = at.reduce<unknown>((n, t) => (n && typeof n === 'object' ? (n as Record<string, unknown>)[t] : undefined), this.parsed(file)?.value);
      }
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[token] : undefined;
      at = [...at, token];
    }
    return { file, pointer: pointerOf(at), line: this.lineOf(file, at) };
  }

  /** The line of the deepest part of `tokens` that is in the file. */
  lineOf(file: string, tokens: readonly string[]): number | undefined {
    const p = this.parsed(file);
    if (!p) return undefined;
    let node: unknown = p.doc.contents;
    const lineAt = (n: unknown): number | undefined => {
      const range = (n as Node | null | undefined)?.range;
      return range ? p.lines.linePos(range[0]).line : undefined;
    };
    let line = lineAt(node);
    for (const t of tokens) {
      if (isMap(node)) {
        const pair = node.items.find((i) => (isScalar(i.key) ? String(i.key.value) : String(i.key)) === t);
        if (!pair) break;
        line = lineAt(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(t)];
        if (item === undefined) break;
        line = lineAt(item) ?? line;
        node = item;
      } else break;
    }
    return line;
  }
}
