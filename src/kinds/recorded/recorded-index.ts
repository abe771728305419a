/**
 * The recordings of one operation, indexed for serving: by normalised request (method, path, query
 * and body, as recording collapses duplicates), by method and path alone (the path parameters), and
 * all of them in time order. Within each, the most recent exchange answers.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseExchangeLine, requestKey, type RecordedExchange, type RecordedRequest } from '../../recording/exchange-format.ts';

export type MatchedBy = 'request' | 'path' | 'operation';

export class OperationRecordings {
  private readonly exact = new Map<string, RecordedExchange>();
  private readonly byPath = new Map<string, RecordedExchange>();
  private latest: RecordedExchange | undefined;
  size = 0;

  constructor(readonly operationId: string) {}

  add(e: RecordedExchange): void {
    this.size++;
    const newer = (old: RecordedExchange | undefined) => !old || old.time <= e.time;
    const key = requestKey(this.operationId, e.request);
    if (newer(this.exact.get(key))) this.exact.set(key, e);
    const pathKey = `${e.request.method.toUpperCase()} ${e.request.path}`;
    if (newer(this.byPath.get(pathKey))) this.byPath.set(pathKey, e);
    if (newer(this.latest)) this.latest = e;
  }

  /** The exchange that answers `req` (already normalised and redacted as a recording is), and how it was found. */
  find(req: RecordedRequest, fallback: 'recent' | 'not-found'): { exchange: RecordedExchange; by: MatchedBy } | undefined {
    const exact = this.exact.get(requestKey(this.operationId, req));
    if (exact) return { exchange: exact, by: 'request' };
    const byPath = this.byPath.get(`${req.method.toUpperCase()} ${req.path}`);
    if (byPath) return { exchange: byPath, by: 'path' };
    if (fallback === 'recent' && this.latest) return { exchange: this.latest, by: 'operation' };
    return undefined;
  }
}

export interface LoadedRecordings {
  byOperation: Map<string, OperationRecordings>;
  files: number;
  /** Lines that could not be read, with their file and line. */
  bad: string[];
}

/** Reads every *.jsonl below `dir` (lines name their operation). */
export function loadRecordings(dir: string, operations?: ReadonlySet<string>): LoadedRecordings {
  const out: LoadedRecordings = { byOperation: new Map(), files: 0, bad: [] };
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.jsonl')) {
        out.files++;
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (line.trim() === '') return;
            const parsed = parseExchangeLine(line);
            if (!parsed.ok) return void out.bad.push(`${p}:${i + 1}: ${parsed.reason}`);
            const op = parsed.exchange.operationId;
            if (operations && !operations.has(op)) return;
            let recs = out.byOperation.get(op);
            if (!recs) out.byOperation.set(op, (recs = new OperationRecordings(op)));
            recs.add(parsed.exchange);
          });
      }
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  return out;
}
