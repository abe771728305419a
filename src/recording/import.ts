/**
 * Import of traffic other tools wrote (HAR, GoReplay): each exchange is matched to an operation of
 * the contract by method and path, its query typed as the contract declares, and redacted exactly as
 * a recorded exchange is (request headers from the allow-list only, cookies and tokens dropped,
 * sensitive fields hashed, secrets found by the scan hashed). Exchanges no operation answers are
 * counted and listed, never dropped silently.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Contract, ContractOperation, JsonSchema } from '../contract/contract.ts';
import { OperationRouter } from '../http/operation-router.ts';
import { FORMAT_VERSION, type RecordedExchange } from './exchange-format.ts';
import { parseBody, type ForeignEntry } from './foreign-entry.ts';
import { readGor } from './gor.ts';
import { readHar } from './har.ts';
import { GATEWAY_VERSION } from './recorder.ts';
import type { Redactor } from './redactor.ts';

export interface Unmatched {
  source: string;
  method: string;
  path: string;
}

export interface BadEntry {
  source: string;
  reason: string;
}

/** Response headers that describe one transfer, not the answer: never kept. */
const TRANSFER_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'date', 'age', 'server', 'via', 'x-request-id', 'ficus-backend']);

function types(schema: JsonSchema | undefined): string[] {
  const t = schema?.type;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

function coerce(value: string, schema: JsonSchema | undefined): unknown {
  const t = types(schema);
  if ((t.includes('integer') || t.includes('number')) && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (t.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** The query of a URL typed as the operation declares it (the form a recording keeps it in). */
export function typedQuery(op: ContractOperation, params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    const schema = op.parameters.find((p) => p.in === 'query' && p.name === name)?.schema;
    if (types(schema).includes('array')) out[name] = values.map((v) => coerce(v, schema?.items as JsonSchema | undefined));
    else out[name] = coerce(values[values.length - 1], schema);
  }
  return out;
}

export class ExchangeImporter {
  private readonly router = new OperationRouter<string>();

  constructor(
    private readonly contract: Contract,
    private readonly redactor: Redactor,
  ) {
    for (const op of contract.all()) this.router.add(op, op.operationId);
  }

  /** The exchange as a recording line, or where no operation of the contract answers it. */
  convert(entry: ForeignEntry): { ok: true; exchange: RecordedExchange } | { ok: false; unmatched: Unmatched } {
    const url = new URL(entry.url, 'http://import.invalid');
    const match = this.router.match(entry.method, url.pathname);
    if (match.kind !== 'found') return { ok: false, unmatched: { source: entry.source, method: entry.method, path: url.pathname } };
    const op = match.operation;
    const { path } = this.redactor.redactPath(op, match.pathParams);
    const responseHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(entry.responseHeaders)) if (!TRANSFER_HEADERS.has(k)) responseHeaders[k] = v;
    const r = this.redactor.redact(
      op,
      op.operationId,
      { method: entry.method, path, query: typedQuery(op, url.searchParams), headers: entry.headers, body: parseBody(entry.bodyText, entry.headers['content-type']) },
      { status: entry.status, headers: responseHeaders, body: parseBody(entry.responseText, entry.responseHeaders['content-type'] ?? entry.responseType) },
    );
    return {
      ok: true,
      exchange: {
        v: FORMAT_VERSION,
        operationId: op.operationId,
        time: new Date(entry.startedAt).toISOString(),
        count: entry.count ?? 1,
        backend: null,
        adapter: null,
        latencyMs: Math.round(entry.latencyMs * 1000) / 1000,
        gateway: GATEWAY_VERSION,
        key: this.redactor.keyId,
        request: r.request,
        response: r.response,
        redacted: r.redacted,
        findings: r.findings,
      },
    };
  }
}

/** The .har and .gor files of the given files and folders (folders walked, in name order). */
export function foreignFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (p: string, top: boolean) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const name of readdirSync(p).sort()) walk(join(p, name), false);
    else if (top || /\.(har|gor)$/i.test(p)) files.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) missing.push(p);
    else walk(p, true);
  }
  return { files, missing };
}

/** Reads one foreign file by its extension (.gor is GoReplay; anything else is read as HAR). */
export function readForeignFile(file: string): { entries: ForeignEntry[]; bad: BadEntry[] } {
  const text = readFileSync(file, 'utf8');
  return /\.gor$/i.test(file) ? readGor(text, file) : readHar(text, file);
}

export interface ImportResult {
  exchanges: RecordedExchange[];
  unmatched: Unmatched[];
  bad: BadEntry[];
  files: string[];
}

/** Reads, matches and redacts every exchange of the given files and folders. */
export function importTraffic(paths: readonly string[], contract: Contract, redactor: Redactor): ImportResult {
  const { files, missing } = foreignFiles(paths);
  const out: ImportResult = { exchanges: [], unmatched: [], bad: missing.map((m) => ({ source: m, reason: 'no such file or folder' })), files };
  const importer = new ExchangeImporter(contract, redactor);
  for (const file of files) {
    let read: { entries: ForeignEntry[]; bad: BadEntry[] };
    try {
      read = readForeignFile(file);
    } catch (err) {
      out.bad.push({ source: file, reason: (err as Error).message });
      continue;
    }
    out.bad.push(...read.bad);
    for (const e of read.entries) {
      const c = importer.convert(e);
      if (c.ok) out.exchanges.push(c.exchange);
      else out.unmatched.push(c.unmatched);
    }
  }
  return out;
}

/** Unmatched exchanges grouped as `METHOD /path` with a count, most frequent first. */
export function unmatchedSummary(unmatched: readonly Unmatched[]): { request: string; count: number; first: string }[] {
  const m = new Map<string, { request: string; count: number; first: string }>();
  for (const u of unmatched) {
    const request = `${u.method} ${u.path}`;
    const seen = m.get(request);
    if (seen) seen.count++;
    else m.set(request, { request, count: 1, first: u.source });
  }
  return [...m.values()].sort((a, b) => b.count - a.count || (a.request < b.request ? -1 : 1));
}
