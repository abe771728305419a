/**
 * The line of a key in a YAML file, for config errors: `operations.getCustomer.sql` → the line of
 * `sql:` under `getCustomer:`. A key that is not in the file (a required key left out) gets the line
 * of its nearest parent that is.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

const TOKEN = /([^.[\]]+)|\[(\d+)\]/g;

export class YamlLines {
  private constructor(
    private readonly root: unknown,
    private readonly lines: LineCounter,
  ) {}

  static of(text: string): YamlLines {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: false });
    return new YamlLines(doc.contents, lines);
  }

  static ofFile(path: string): YamlLines | undefined {
    try {
      return YamlLines.of(readFileSync(path, 'utf8'));
    } catch {
      return undefined;
    }
  }

  lineOf(key: string): number | undefined {
    let node: unknown = this.root;
    let line = this.lineAt(node);
    if (key === '') return line;
    for (const m of key.matchAll(TOKEN)) {
      if (m[1] !== undefined && isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === m[1]);
        if (!pair) break;
        line = this.lineAt(pair.key) ?? line;
        node = pair.value;
      } else if (m[2] !== undefined && isSeq(node)) {
        const item = node.items[Number(m[2])];
        if (item === undefined) break;
        line = this.lineAt(item) ?? line;
        node = item;
      } else break;
    }
    return line;
  }

  private lineAt(node: unknown): number | undefined {
    const range = (node as Node | null | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }
}
