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

export async function readRecordings(paths: readonly string[], contract: Contract): Promise<ReadResult> {
  const { files, missing } = recordingFiles(paths);
  const out: ReadResult = { items: [], bad: missing.map((m) => ({ file: m, line: 0, reason: 'no such file or folder' })), files: [] };
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    out.files.push(shown);
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
