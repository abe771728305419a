/**
 * The copybooks part of `npm run conformance`: every copybook of `<corpus>/cobol-peers` (cb2xml,
 * Cobrix, JRecord, copybook-rs test data) is first judged by GnuCOBOL (`cobc -fsyntax-only` on a
 * tiny program that COPYs it), then parsed by Ficus; for the ones both accept, the size of every
 * data item is compared with GnuCOBOL's symbol table (`cobc -t … -ftsymbols`, which lists sizes but
 * not offsets in GnuCOBOL 3.1), Ficus told the sizes of the dialect GnuCOBOL compiled it in
 * (`-std=default`: binarySize 1-2-4-8, pointerSize 8; `-std=ibm` where only that compiles it:
 * binarySize 2-4-8, comp5Size 1-2-4-8, pointerSize 8), and the offsets and sizes of Ficus's default
 * (IBM) layout with the peers' published layouts (cb2xml's XML, Cobrix's layout dumps, copybook-rs's
 * golden schema), which follow IBM.
 *
 * GnuCOBOL's verdict is not cached: each run compiles every copybook again (about a minute).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseCopybookDetailed, type ParsedEntry } from '../../src/records/copybook.ts';
import type { Sizing } from '../../src/records/pic.ts';

/** The sizes GnuCOBOL 3.1 gives binary and pointer items in each dialect (x86-64). */
const GNUCOBOL_SIZING: Record<Dialect, Sizing> = {
  '-std=default': { binarySize: '1-2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 },
  '-std=ibm': { binarySize: '2-4-8', comp5Size: '1-2-4-8', pointerSize: 8 },
};
type Dialect = '-std=default' | '-std=ibm';

const run = promisify(execFile);

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(cbl|cob|cpy)$/i.test(name)) out.push(p);
  }
  return out;
}

/** The first level number of a copybook (fixed or free format), to know whether it needs an 01 around it. */
function firstLevel(text: string): number | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const fixed = raw.length >= 7 && raw[6] !== ' ' && raw[6] !== '-' ? raw[6] : undefined;
    if (fixed === '*' || fixed === '/') continue;
    const code = raw.length > 7 && /^[\s\S]{6}[ D-]/.test(raw) ? raw.slice(7, 72) : raw;
    if (/^\s*\*/.test(code)) continue;
    const m = /^\s*(\d{1,2})\s/.exec(code + ' ');
    if (m) return Number(m[1]);
    if (/\S/.test(code) && !/^\s*\*>/.test(code)) {
      const m2 = /^\s*(\d{1,2})\s/.exec(raw.slice(6) + ' ');
      if (m2) return Number(m2[1]);
    }
  }
  return undefined;
}

interface CobcItem {
  level: number;
  name: string;
  size: number;
  elementary: boolean;
}

interface CobcVerdict {
  ok: boolean;
  /** The dialect that compiled it. */
  std?: Dialect;
  items: CobcItem[];
  message: string;
}

const PROGRAM = (copy: string, wrap: boolean) =>
  [
    '       IDENTIFICATION DIVISION.',
    '       PROGRAM-ID. FICUSCPY.',
    '       DATA DIVISION.',
    '       WORKING-STORAGE SECTION.',
    ...(wrap ? ['       01 FICUS-WRAP.'] : []),
    `       COPY "${copy}".`,
    '       PROCEDURE DIVISION.',
    '           STOP RUN.',
    '',
  ].join('\n');

async function cobc(file: string, work: string): Promise<CobcVerdict> {
  const text = readFileSync(file, 'latin1');
  const level = firstLevel(text);
  const wrap = level !== 1 && level !== 77;
  const src = join(work, 'p.cbl');
  const lst = join(work, 'p.lst');
  writeFileSync(src, PROGRAM(basename(file), wrap));
  let message = '';
  // GnuCOBOL's default dialect first, then IBM's (for reserved words the default refuses as names); fixed format, then free.
  for (const [std, format] of [
    ['-std=default', '-fixed'],
    ['-std=default', '-free'],
    ['-std=ibm', '-fixed'],
    ['-std=ibm', '-free'],
  ] as const) {
    rmSync(lst, { force: true });
    try {
      await run('cobc', ['-fsyntax-only', std, format, '-I', dirname(file), '-t', lst, '-ftsymbols', src], { cwd: work, timeout: 60_000 });
      return { ok: true, std, items: symbols(readFileSync(lst, 'latin1'), wrap), message: '' };
    } catch (err) {
      message ||=
        String((err as { stderr?: string }).stderr ?? err)
          .split('\n')
          .find((l) => /error/.test(l)) ?? '';
    }
  }
  return { ok: false, items: [], message };
}

function symbols(listing: string, wrapped: boolean): CobcItem[] {
  const items: CobcItem[] = [];
  const at = listing.indexOf('WORKING-STORAGE SECTION\n');
  for (const line of listing.slice(at).split('\n')) {
    const m = /^(\d{5,}|\s{5}) (\S+)\s+(\d\d)\s+([^\s,]+)/.exec(line);
    if (!m) continue;
    const level = Number(m[3]);
    if (level === 88 || level === 66) continue;
    if (wrapped && m[4] === 'FICUS-WRAP') continue;
    // GnuCOBOL lists a table's size for a group, one occurrence's for an elementary item.
    items.push({ level, name: m[4].toUpperCase(), size: Number(m[1]), elementary: m[2] !== 'GROUP' });
  }
  return items;
}

/** Ficus's items in declaration order: name, absolute offset, size (all occurrences), its top-level item's offset. */
interface FlatItem {
  name: string;
  offset: number;
  size: number;
  one: number;
  top: number;
}

function flatten(entries: readonly ParsedEntry[]): FlatItem[] {
  return entries.map((e) => ({ name: e.label.toUpperCase(), offset: e.offset, size: e.size, one: e.one, top: e.topOffset }));
}

/** cb2xml XML: every `<item>` with its position (1-based), storage length per occurrence and occurs. */
function cb2xmlItems(xml: string): { name: string; position: number; size: number; top: number }[] {
  const out: { name: string; position: number; size: number; top: number }[] = [];
  let depth = 0;
  let top = 0;
  const re = /<item\b([^>]*?)(\/?)>|<\/item>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[0] === '</item>') {
      depth--;
      continue;
    }
    const attr = (n: string) => new RegExp(`\\b${n}="([^"]*)"`).exec(m[1])?.[1];
    const level = attr('level');
    if (level === '66' || level === '88') {
      if (m[2] !== '/') depth++;
      continue;
    }
    const position = Number(attr('position'));
    const size = Number(attr('storage-length')) * Number(attr('occurs') ?? 1);
    if (depth === 0) top = position;
    out.push({ name: (attr('name') ?? 'FILLER').toUpperCase(), position: position - top, size, top });
    if (m[2] !== '/') depth++;
  }
  return out;
}

/** Cobrix layout dump: name, START (1-based) and LENGTH of each line. */
function cobrixItems(txt: string): { name: string; start: number; length: number }[] {
  const out: { name: string; start: number; length: number }[] = [];
  for (const line of txt.split('\n')) {
    const m = /^\s*\d+\s+(\S+)\s.*?\s(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
    if (m) out.push({ name: m[1].toUpperCase(), start: Number(m[3]), length: Number(m[5]) });
  }
  return out;
}

const norm = (n: string) => n.toUpperCase().replace(/-/g, '_');

export async function main(corpus: string): Promise<boolean> {
  const root = join(corpus, 'cobol-peers');
  if (!existsSync(root)) {
    console.log(`copybooks: no corpus at ${root}`);
    return false;
  }
  let hasCobc = true;
  try {
    await run('cobc', ['--version']);
  } catch {
    hasCobc = false;
    console.log('copybooks: cobc (GnuCOBOL) is not installed; every copybook is counted, none judged');
  }
  const files = walk(root);
  const work = mkdtempSync(join(tmpdir(), 'ficus-cpy-'));
  const verbose = process.env.FICUS_CONFORMANCE_VERBOSE === '1';
  const stats = { files: files.length, accepted: 0, parsed: 0, sizeMatch: 0, sizeCompared: 0, peerCompared: 0, peerMatch: 0, parsedNotAccepted: 0, byStd: { '-std=default': 0, '-std=ibm': 0 } };
  const failures: string[] = [];
  const mismatches: string[] = [];
  const peerMismatches: string[] = [];
  // Peer layouts: cb2xml XML by copybook name, Cobrix dumps by test number, copybook-rs golden.
  const cb2xml = new Map<string, string>();
  for (const dir of ['xml', 'xml-classic']) {
    const d = join(root, 'cb2xml', dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      const xml = readFileSync(join(d, f), 'utf8');
      const name = /filename="([^"]+)"/.exec(xml)?.[1];
      if (name && !cb2xml.has(name.toLowerCase())) cb2xml.set(name.toLowerCase(), join(d, f));
    }
  }
  try {
    for (const file of files) {
      const rel = relative(root, file);
      const verdict = hasCobc ? await cobc(file, work) : { ok: true, items: [], message: '' };
      const text = readFileSync(file, 'latin1');
      let entries: ParsedEntry[] | undefined;
      let error = '';
      try {
        entries = parseCopybookDetailed(text, rel, { copyDirs: [dirname(file)] }).entries;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      if (!verdict.ok) {
        if (entries) stats.parsedNotAccepted++;
        if (verbose) console.log(`  cobc refuses ${rel}: ${verdict.message}`);
        continue;
      }
      stats.accepted++;
      if (!entries) {
        failures.push(`${rel}: ${error}`);
        continue;
      }
      stats.parsed++;
      const flat = flatten(entries);
      if (hasCobc && verdict.std) {
        stats.sizeCompared++;
        stats.byStd[verdict.std]++;
        // Sizes as the dialect GnuCOBOL compiled it in gives them.
        const gnu = flatten(parseCopybookDetailed(text, rel, { copyDirs: [dirname(file)], sizing: GNUCOBOL_SIZING[verdict.std] }).entries);
        const diffs: string[] = [];
        if (gnu.length !== verdict.items.length) diffs.push(`${gnu.length} items, GnuCOBOL ${verdict.items.length}`);
        for (let i = 0; i < Math.min(gnu.length, verdict.items.length) && diffs.length < 3; i++) {
          const a = gnu[i];
          const b = verdict.items[i];
          if ((b.elementary ? a.one : a.size) !== b.size || (a.name !== b.name && b.name !== 'FILLER' && a.name !== 'FILLER'))
            diffs.push(`${b.name}: Ficus ${a.name} ${b.elementary ? a.one : a.size} bytes, GnuCOBOL ${b.size}`);
        }
        if (diffs.length === 0) stats.sizeMatch++;
        else mismatches.push(`${rel} (${verdict.std}): ${diffs.join('; ')}`);
      }
      // Peers
      const peer = peerLayout(root, rel, file, cb2xml);
      if (peer) {
        stats.peerCompared++;
        const diffs = peer(flat);
        if (diffs.length === 0) stats.peerMatch++;
        else peerMismatches.push(`${rel}: ${diffs.slice(0, 3).join('; ')}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`copybooks in the corpus: ${stats.files}`);
  console.log(`accepted by GnuCOBOL (cobc -fsyntax-only): ${stats.accepted}`);
  console.log(`  of those, parsed by Ficus: ${stats.parsed}`);
  console.log(
    `  every item's size equal to GnuCOBOL's (Ficus told the dialect's sizes): ${stats.sizeMatch} of ${stats.sizeCompared} (${stats.byStd['-std=default']} compiled -std=default, ${stats.byStd['-std=ibm']} only -std=ibm)`,
  );
  console.log(`  with a peer layout published: ${stats.peerCompared}; offsets and sizes equal to the peer's: ${stats.peerMatch}`);
  console.log(`refused by GnuCOBOL but parsed by Ficus: ${stats.parsedNotAccepted}`);
  if (failures.length) console.log(`\nnot parsed (${failures.length}):\n  ${failures.join('\n  ')}`);
  if (mismatches.length) console.log(`\nsizes differing from GnuCOBOL's (${mismatches.length}):\n  ${mismatches.join('\n  ')}`);
  if (peerMismatches.length) console.log(`\nlayouts differing from the peer's (${peerMismatches.length}):\n  ${peerMismatches.join('\n  ')}`);
  return failures.length === 0 && mismatches.length === 0;
}

type PeerCheck = (flat: FlatItem[]) => string[];

function peerLayout(root: string, rel: string, file: string, cb2xml: Map<string, string>): PeerCheck | undefined {
  const base = basename(file);
  if (rel.startsWith('cb2xml/')) {
    const xmlFile = cb2xml.get(base.toLowerCase());
    if (!xmlFile) return undefined;
    const theirs = cb2xmlItems(readFileSync(xmlFile, 'utf8'));
    return (flat) => {
      const diffs: string[] = [];
      if (flat.length !== theirs.length) diffs.push(`${flat.length} items, cb2xml ${theirs.length}`);
      for (let i = 0; i < Math.min(flat.length, theirs.length); i++) {
        const a = flat[i];
        const b = theirs[i];
        if (a.offset - a.top !== b.position || a.size !== b.size) diffs.push(`${b.name}: Ficus offset ${a.offset - a.top} size ${a.size}, cb2xml ${b.position} size ${b.size}`);
      }
      return diffs;
    };
  }
  if (rel.startsWith('cobrix/')) {
    const m = /^(test\d+[a-z]?)_/.exec(base);
    const layoutFile = m ? join(root, 'cobrix', 'layouts', `${m[1]}_layout.txt`) : '';
    if (!m || !existsSync(layoutFile)) return undefined;
    const theirs = cobrixItems(readFileSync(layoutFile, 'utf8'));
    return (flat) => {
      const diffs: string[] = [];
      const used = new Set<number>();
      for (const t of theirs) {
        // Cobrix renames duplicate FILLERs (FILLER_1) and writes - as _: match by name, in order.
        if (/^FILLER/.test(t.name)) continue;
        const k = flat.findIndex((f, i) => !used.has(i) && norm(f.name) === t.name);
        if (k < 0) {
          diffs.push(`${t.name}: not in Ficus's layout`);
          continue;
        }
        used.add(k);
        const f = flat[k];
        if (f.offset + 1 !== t.start || f.size !== t.length) diffs.push(`${t.name}: Ficus start ${f.offset + 1} length ${f.size}, Cobrix ${t.start} length ${t.length}`);
      }
      return diffs;
    };
  }
  if (rel.startsWith('copybook-rs/')) {
    const golden = join(root, 'copybook-rs', 'golden', `${base.replace(/\.cpy$/, '')}.schema.json`);
    if (!existsSync(golden)) return undefined;
    const schema = JSON.parse(readFileSync(golden, 'utf8')) as { fields: { path: string; offset: number; len: number }[] };
    return (flat) => {
      const diffs: string[] = [];
      for (const f of schema.fields) {
        const name = f.path.split('.').pop()!.toUpperCase();
        const mine = flat.find((x) => x.name === name);
        if (!mine) diffs.push(`${name}: not in Ficus's layout`);
        else if (mine.offset !== f.offset || mine.size !== f.len) diffs.push(`${name}: Ficus offset ${mine.offset} size ${mine.size}, copybook-rs ${f.offset} size ${f.len}`);
      }
      return diffs;
    };
  }
  return undefined;
}
