/**
 * One HTTP exchange as another tool wrote it (a HAR entry, a GoReplay request and its response),
 * before it is matched to an operation of the contract and redacted.
 */
export interface ForeignEntry {
  /** Where it came from, for messages: `traffic.har#12`. */
  source: string;
  method: string;
  /** The request URL: absolute, or a path with its query. */
  url: string;
  headers: Record<string, string>;
  /** The request body as sent (text), or undefined. */
  bodyText?: string;
  status: number;
  responseHeaders: Record<string, string>;
  /** The response body as sent (text), or undefined. */
  responseText?: string;
  /** The response's media type where the format says it apart from the headers (HAR's content.mimeType). */
  responseType?: string;
  /** When the request started (epoch ms). */
  startedAt: number;
  latencyMs: number;
  /** How many identical requests it stands for (a Ficus export says so); default 1. */
  count?: number;
}

/** Header lists (HAR's `[{name, value}]`) as one record with lower-case names; repeated names joined. */
export function headerRecord(list: readonly { name: string; value: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const n = h.name.toLowerCase();
    if (n.startsWith(':')) continue; // HTTP/2 pseudo-headers, as browsers write them
    out[n] = n in out ? `${out[n]}, ${h.value}` : h.value;
  }
  return out;
}

/** A body as JSON when its type says JSON (or it parses as JSON), else the text; null when empty. */
export function parseBody(text: string | undefined, contentType: string | undefined): unknown {
  if (text === undefined || text === '') return null;
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[[{]/.test(text);
  if (looksJson) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
