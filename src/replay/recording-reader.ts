/**
 * Reads recordings for replay: files or folders (every *.jsonl below, in name order), line by line.
 * A line that cannot be replayed (truncated or corrupted, a newer format version, an operation no
 * longer in the contract) is reported with its file and line; the rest are read.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import type { Contract } from '../contract/contract.ts';
import { parseExchangeLine, type RecordedExchange } from '../recording/exchange-format.ts';
import { ExchangeImporter, readForeignFile } from '../recording/import.ts';
import type { Redactor } from '../recording/redactor.ts';

export interface ReplayItem {
  exchange: RecordedExchange;
  /** As given to the reader, relative to the working folder where possible. */
  file: string;
  line: number;
}

export interface BadLine {
  file: string;
  line: number;
  reason: string;
}

export interface ReadResult {
  items: ReplayItem[];
  bad: BadLine[];
  files: string[];
}

export function recordingFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = join(p, name);
        if (statSync(child).isDirectory()) walk(child);
        else if (name.endsWith('.jsonl')) files.push(child);
      }
    } else files.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) missing.push(p);
    else walk(p);
  }
  return { files, missing };
}

/** A HAR (or GoReplay) file given by name: its exchanges matched to operations and redacted as an import does. */
function readForeign(file: string, shown: string, contract: Contract, redactor: Redactor | undefined, out: ReadResult): void {
  if (!redactor) {
    out.bad.push({ file: shown, line: 0, reason: "HAR and GoReplay files are read with the project's redaction settings; none were given" });
    return;
  }
  let read;
  try {
    read = readForeignFile(file);
  } catch (err) {
    out.bad.push({ file: shown, line: 0, reason: (err as Error).message });
    return;
  }
  for (const b of read.bad) out.bad.push({ file: shown, line: entryIndex(b.source), reason: b.reason });
  const importer = new ExchangeImporter(contract, redactor);
  for (const e of read.entries) {
    const c = importer.convert(e);
    if (c.ok) out.items.push({ exchange: c.exchange, file: shown, line: entryIndex(e.source) });
    else out.bad.push({ file: shown, line: entryIndex(e.source), reason: `${c.unmatched.method} ${c.unmatched.path} matches no operation of ${contract.file}` });
  }
}

/** The entry's index (`file#12`), reported in the place of a line number. */
function entryIndex(source: string): number {
  const m = /#(\d+)$/.exec(source);
  return m ? Number(m[1]) : 0;
}

/**
 * Every exchange of the given recordings. A file ending in .har or .gor is read as HAR or GoReplay
 * traffic (needs `redactor`: the answers are compared redacted).
 */
export async function readRecordings(paths: readonly string[], contract: Contract, redactor?: Redactor): Promise<ReadResult> {
  const { files, missing } = recordingFiles(paths);
  const out: ReadResult = { items: [], bad: missing.map((m) => ({ file: m, line: 0, reason: 'no such file or folder' })), files: [] };
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    out.files.push(shown);
    if (/\.(har|gor)$/i.test(file)) {
      readForeign(file, shown, contract, redactor, out);
      continue;
    }
    const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const text of rl) {
      n++;
      if (text.trim() === '') continue;
      const parsed = parseExchangeLine(text);
      if (!parsed.ok) {
        out.bad.push({ file: shown, line: n, reason: parsed.reason });
        continue;
      }
      const op = parsed.exchange.operationId;
      if (!contract.has(op)) {
        out.bad.push({ file: shown, line: n, reason: `operation "${op}" is no longer in ${contract.file}; re-record it or delete the recording` });
        continue;
      }
      out.items.push({ exchange: parsed.exchange, file: shown, line: n });
    }
  }
  return out;
}
