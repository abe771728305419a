/**
 * `discriminator.mapping` values in a contract of several files. A mapping value is a schema name
 * or a reference (`./Beverage.yaml`, `./pets.yaml#/Dog`, `#/components/schemas/Cat`), and a
 * reference is read relative to the file the discriminator is written in. It is not a `$ref`, so
 * bundling (@apidevtools/json-schema-ref-parser) leaves it as written, naming a file the bundled
 * document no longer has. This module records which file each discriminator comes from while the
 * files are parsed, and, once they are bundled, rewrites each reference to a JSON pointer in the
 * bundled document (`#/paths/~1menu/post/.../oneOf/0`): where the schema it names was put.
 *
 * A schema named only by a mapping (an `allOf` child in a file of its own that no `$ref` reaches)
 * is not bundled at all; `rewrite` returns those, for the caller to bundle again with each of them
 * added to `components.schemas` (`componentsFor`).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pointerOf, pointerTokens } from './source-lines.ts';

type Node = Record<string, unknown>;

function isNode(x: unknown): x is Node {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** A file as the ref parser names it (an absolute path, percent-encoded) → the path on disk. */
export function diskPath(url: string): string {
  if (url.startsWith('file:')) return fileURLToPath(url);
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

/** Whether a mapping value is a reference rather than a schema name (OpenAPI 3.1.1, 4.8.25.2.1). */
function isReference(value: string, names: ReadonlySet<string>): boolean {
  if (names.has(value)) return false;
  return value.includes('/') || value.includes('#') || /\.(ya?ml|json)$/i.test(value);
}

/** A mapping reference that names a schema the bundling did not keep. */
export interface MissingTarget {
  /** The file on disk and the JSON pointer in it (`''` for the whole file), percent-encoded as in the reference. */
  file: string;
  pointer: string;
  /** Whether there is nothing to bundle: no such file, or nothing at the pointer in it. */
  nowhere: boolean;
}

interface Owned {
  discriminator: Node;
  file: string;
  /** Where the discriminator is in its file, for messages. */
  pointer: string;
}

export class DiscriminatorMappings {
  private readonly owned: Owned[] = [];
  private readonly seen = new Set<object>();
  /** Each parsed file's value (the same objects the bundled document holds), by path on disk. */
  private readonly files = new Map<string, unknown>();

  /** Records the discriminators of one file, as parsed (before bundling moves anything). */
  noteFile(file: string, value: unknown): void {
    this.files.set(file, value);
    const walk = (node: unknown, tokens: string[]): void => {
      if (Array.isArray(node)) {
        node.forEach((x, i) => walk(x, [...tokens, String(i)]));
        return;
      }
      if (!isNode(node)) return;
      const d = node.discriminator;
      if (isNode(d) && isNode(d.mapping) && !this.seen.has(d)) {
        this.seen.add(d);
        this.owned.push({ discriminator: d, file, pointer: pointerOf([...tokens, 'discriminator', 'mapping']) });
      }
      for (const [k, v] of Object.entries(node)) if (k !== 'discriminator' && typeof v === 'object') walk(v, [...tokens, k]);
    };
    walk(value, []);
  }

  /**
   * Rewrites, in place, every mapping reference into another file (or into a part of another
   * file) to where the bundled document holds that schema. Returns the targets it did not hold.
   */
  rewrite(bundled: Record<string, unknown>, rootFile: string): MissingTarget[] {
    const where = locations(bundled);
    const names = new Set(Object.keys(componentSchemas(bundled)));
    const missing: MissingTarget[] = [];
    for (const { discriminator, file } of this.owned) {
      const mapping = discriminator.mapping as Node;
      for (const [value, ref] of Object.entries(mapping)) {
        if (typeof ref !== 'string' || !isReference(ref, names)) continue;
        const target = referenceIn(file, ref);
        if (!target) continue;
        const { file: targetFile, pointer } = target;
        // The entry document's own pointers are the bundled document's.
        if (targetFile === rootFile) {
          mapping[value] = `#${pointer}`;
          continue;
        }
        const read = this.files.has(targetFile);
        const node = read ? walkPointer(this.files.get(targetFile), pointer) : undefined;
        const at = node !== null && typeof node === 'object' ? where.get(node) : undefined;
        if (at !== undefined) mapping[value] = `#${at}`;
        else missing.push({ file: targetFile, pointer, nowhere: read ? node === null || typeof node !== 'object' : !existsSync(targetFile) });
      }
    }
    return missing;
  }

  /** The mapping reference that names `target`, for a message: the file and pointer it is written at. */
  ownerOf(target: MissingTarget): { file: string; pointer: string; value: string } | undefined {
    for (const { discriminator, file, pointer } of this.owned) {
      for (const [key, ref] of Object.entries(discriminator.mapping as Node)) {
        const r = typeof ref === 'string' ? referenceIn(file, ref) : undefined;
        if (r && r.file === target.file && r.pointer === target.pointer) return { file, pointer: `${pointer}${pointerOf([key])}`, value: ref as string };
      }
    }
    return undefined;
  }
}

/** A reference written in `file`: the file on disk it names and the pointer (undefined: not a local file). */
function referenceIn(file: string, ref: string): { file: string; pointer: string } | undefined {
  let u: URL;
  try {
    u = new URL(ref, pathToFileURL(file));
  } catch {
    return undefined;
  }
  if (u.protocol !== 'file:') return undefined;
  return { file: fileURLToPath(new URL(u.pathname, 'file://')), pointer: u.hash.slice(1) };
}

/**
 * `$ref`s that add each missing target to `components.schemas` of the entry document (relative to
 * it), under a name of its own: the pointer's last part, or the file's name when it names a whole file.
 */
export function componentsFor(missing: readonly MissingTarget[], rootFile: string, root: Record<string, unknown>): Record<string, { $ref: string }> {
  const taken = new Set(Object.keys(componentSchemas(root)));
  const out: Record<string, { $ref: string }> = {};
  const done = new Set<string>();
  for (const m of missing) {
    const key = `${m.file}#${m.pointer}`;
    if (done.has(key)) continue;
    done.add(key);
    const last = pointerTokens(m.pointer).at(-1);
    const base = (last ?? basename(m.file, extname(m.file))).replace(/[^A-Za-z0-9_.-]/g, '_') || 'Schema';
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}${n}`;
    taken.add(name);
    let rel = relative(dirname(rootFile), m.file).split('\\').join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    out[name] = { $ref: m.pointer === '' ? rel : `${rel}#${m.pointer}` };
  }
  return out;
}

function componentSchemas(doc: Record<string, unknown>): Record<string, unknown> {
  const c = doc.components;
  return isNode(c) && isNode(c.schemas) ? c.schemas : {};
}

/** The first JSON pointer at which each object of `doc` sits. */
function locations(doc: unknown): Map<object, string> {
  const out = new Map<object, string>();
  const walk = (node: unknown, tokens: string[]): void => {
    if (node === null || typeof node !== 'object' || out.has(node)) return;
    out.set(node, pointerOf(tokens));
    if (Array.isArray(node)) node.forEach((x, i) => walk(x, [...tokens, String(i)]));
    else for (const [k, v] of Object.entries(node as Node)) walk(v, [...tokens, k]);
  };
  walk(doc, []);
  return out;
}

function walkPointer(value: unknown, pointer: string): unknown {
  let node = value;
  for (const t of pointerTokens(pointer)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Node)[t];
  }
  return node;
}
