/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the format of browser devtools, proxies
 * (mitmproxy, Charles, Fiddler) and Postman: read into foreign entries for import, and written from
 * recorded exchanges for export. An exported entry carries what Ficus knows beyond HAR in `_ficus`
 * (custom fields start with an underscore in HAR), so an export imports back as it was.
 */
import type { Entry, Har, Header, QueryString } from 'har-format';
import { z } from 'zod';
import type { RecordedExchange } from './exchange-format.ts';
import type { ForeignEntry } from './foreign-entry.ts';
import { headerRecord } from './foreign-entry.ts';
import { GATEWAY_VERSION } from './recorder.ts';

const nameValue = z.object({ name: z.string(), value: z.string() });
const harEntrySchema = z.object({
  startedDateTime: z.string(),
  time: z.number().optional(),
  request: z.object({
    method: z.string(),
    url: z.string(),
    headers: z.array(nameValue).default([]),
    postData: z.object({ mimeType: z.string().optional(), text: z.string().optional() }).optional(),
  }),
  response: z.object({
    status: z.number().int(),
    headers: z.array(nameValue).default([]),
    content: z.object({ mimeType: z.string().optional(), text: z.string().optional(), encoding: z.string().optional() }).default({}),
  }),
  timings: z.object({ wait: z.number().optional() }).optional(),
  _ficus: z.object({ count: z.number().int().min(1).optional() }).optional(),
});
const harSchema = z.object({ log: z.object({ entries: z.array(z.unknown()) }) });

export class HarError extends Error {}

/** The entries of a HAR document; an entry that is not one is reported, not skipped silently. */
export function readHar(text: string, file: string): { entries: ForeignEntry[]; bad: { source: string; reason: string }[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new HarError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const doc = harSchema.safeParse(raw);
  if (!doc.success) throw new HarError(`${file}: not a HAR file (no log.entries)`);
  const entries: ForeignEntry[] = [];
  const bad: { source: string; reason: string }[] = [];
  doc.data.log.entries.forEach((rawEntry, i) => {
    const source = `${file}#${i}`;
    const p = harEntrySchema.safeParse(rawEntry);
    if (!p.success) {
      const issue = p.error.issues[0];
      bad.push({ source, reason: `entry ${i}: ${issue.path.join('.')}: ${issue.message}` });
      return;
    }
    const e = p.data;
    // A response the browser never got (status 0: blocked, cancelled) is no exchange.
    if (e.response.status < 100) {
      bad.push({ source, reason: `entry ${i}: no response (status ${e.response.status})` });
      return;
    }
    const c = e.response.content;
    const responseText = c.text === undefined ? undefined : c.encoding === 'base64' ? Buffer.from(c.text, 'base64').toString('utf8') : c.text;
    const responseHeaders = headerRecord(e.response.headers);
    const headers = headerRecord(e.request.headers);
    if (e.request.postData?.mimeType && !headers['content-type']) headers['content-type'] = e.request.postData.mimeType;
    const started = Date.parse(e.startedDateTime);
    entries.push({
      source,
      method: e.request.method.toUpperCase(),
      url: e.request.url,
      headers,
      bodyText: e.request.postData?.text,
      status: e.response.status,
      responseHeaders,
      responseText,
      responseType: c.mimeType,
      startedAt: Number.isNaN(started) ? 0 : started,
      latencyMs: Math.max(0, e.timings?.wait ?? e.time ?? 0),
      count: e._ficus?.count,
    });
  });
  return { entries, bad };
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function headerList(h: Record<string, string>): Header[] {
  return Object.entries(h).map(([name, value]) => ({ name, value }));
}

function queryList(q: Record<string, unknown>): QueryString[] {
  const out: QueryString[] = [];
  for (const [name, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    for (const x of Array.isArray(v) ? v : [v]) out.push({ name, value: typeof x === 'object' ? JSON.stringify(x) : String(x) });
  }
  return out;
}

/** What Ficus keeps of an exchange beyond HAR, under `_ficus` of each entry. */
export interface HarFicusFields {
  operationId: string;
  count: number;
  backend: string | null;
  adapter: string | null;
  consumer?: string;
  key: string;
  redacted: string[];
}

/** One recorded exchange as a HAR 1.2 entry against `baseUrl`. */
export function harEntry(e: RecordedExchange, baseUrl: string): Entry & { _ficus: HarFicusFields } {
  const query = queryList(e.request.query);
  const search = query.length > 0 ? '?' + new URLSearchParams(query.map((q) => [q.name, q.value])).toString() : '';
  const reqText = e.request.body === null || e.request.body === undefined ? undefined : JSON.stringify(e.request.body);
  const resText = e.response.body === null || e.response.body === undefined ? '' : typeof e.response.body === 'string' ? e.response.body : JSON.stringify(e.response.body);
  const problem = e.response.status >= 400 && typeof e.response.body === 'object' && e.response.body !== null && 'type' in e.response.body;
  const mimeType = e.response.headers['content-type'] ?? (resText === '' ? 'application/octet-stream' : problem ? 'application/problem+json' : 'application/json');
  const wait = Math.max(0, e.latencyMs);
  return {
    startedDateTime: new Date(Date.parse(e.time) || 0).toISOString(),
    time: wait,
    request: {
      method: e.request.method,
      url: baseUrl.replace(/\/+$/, '') + e.request.path + search,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(e.request.headers),
      queryString: query,
      ...(reqText === undefined ? {} : { postData: { mimeType: e.request.headers['content-type'] ?? 'application/json', text: reqText } }),
      headersSize: -1,
      bodySize: reqText === undefined ? 0 : Buffer.byteLength(reqText),
    },
    response: {
      status: e.response.status,
      statusText: STATUS_TEXT[e.response.status] ?? '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(e.response.headers),
      content: { size: Buffer.byteLength(resText), mimeType, text: resText },
      redirectURL: '',
      headersSize: -1,
      bodySize: Buffer.byteLength(resText),
    },
    cache: {},
    timings: { send: 0, wait, receive: 0 },
    _ficus: { operationId: e.operationId, count: e.count, backend: e.backend, adapter: e.adapter, ...(e.consumer !== undefined ? { consumer: e.consumer } : {}), key: e.key, redacted: e.redacted },
  };
}

/** A HAR 1.2 document of recorded exchanges. */
export function toHar(exchanges: Iterable<RecordedExchange>, baseUrl = 'http://localhost'): Har {
  const entries: Entry[] = [];
  for (const e of exchanges) entries.push(harEntry(e, baseUrl));
  return { log: { version: '1.2', creator: { name: 'ficus', version: GATEWAY_VERSION }, entries } };
}
