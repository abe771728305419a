/**
 * GoReplay's `.gor` files: payloads separated by a line of three monkeys (🐵🙈🙉); each payload is
 * a meta line `<type> <id> <timestamp ns> [latency ns]` (1 request, 2 the original response,
 * 3 a replayed response) and the raw HTTP/1.x message. A request and its original response share an id.
 */
import type { ForeignEntry } from './foreign-entry.ts';

const SEPARATOR = '\n🐵🙈🙉\n';

interface RawMessage {
  startLine: string;
  headers: Record<string, string>;
  body: string;
}

function parseHttp(text: string): RawMessage | undefined {
  const split = text.indexOf('\r\n\r\n') >= 0 ? '\r\n' : '\n';
  const end = text.indexOf(split + split);
  const head = end >= 0 ? text.slice(0, end) : text;
  let body = end >= 0 ? text.slice(end + split.length * 2) : '';
  const lines = head.split(split);
  const startLine = lines.shift() ?? '';
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const n = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[n] = n in headers ? `${headers[n]}, ${v}` : v;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  return startLine ? { startLine, headers, body } : undefined;
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) break;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) break;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
  return out;
}

/** The exchanges of a .gor file: each request with its original response; requests without one are reported. */
export function readGor(text: string, file: string): { entries: ForeignEntry[]; bad: { source: string; reason: string }[] } {
  const requests = new Map<string, { msg: RawMessage; at: number; index: number }>();
  const responses = new Map<string, { msg: RawMessage; latencyNs: number }>();
  const bad: { source: string; reason: string }[] = [];
  const payloads = text.split(SEPARATOR);
  payloads.forEach((payload, index) => {
    const p = payload.replace(/^\n+/, '');
    if (p.trim() === '') return;
    const nl = p.indexOf('\n');
    const meta = (nl >= 0 ? p.slice(0, nl) : p).trim().split(/\s+/);
    const msg = parseHttp(nl >= 0 ? p.slice(nl + 1) : '');
    const source = `${file}#${index}`;
    if (!msg || meta.length < 3) {
      bad.push({ source, reason: `payload ${index}: not a GoReplay payload (meta line "${meta.join(' ')}")` });
      return;
    }
    const [type, id, ts, latency] = meta;
    if (type === '1') requests.set(id, { msg, at: Number(ts) / 1e6, index });
    else if (type === '2') responses.set(id, { msg, latencyNs: Number(latency ?? 0) });
  });
  const entries: ForeignEntry[] = [];
  for (const [id, req] of requests) {
    const source = `${file}#${req.index}`;
    const res = responses.get(id);
    const m = /^([A-Za-z]+)\s+(\S+)\s+HTTP\/[\d.]+$/.exec(req.msg.startLine);
    if (!m) {
      bad.push({ source, reason: `request ${id}: not an HTTP request line: "${req.msg.startLine}"` });
      continue;
    }
    const s = res ? /^HTTP\/[\d.]+\s+(\d{3})/.exec(res.msg.startLine) : null;
    if (!res || !s) {
      bad.push({ source, reason: `request ${id} (${m[1]} ${m[2]}): no original response in the file` });
      continue;
    }
    entries.push({
      source,
      method: m[1].toUpperCase(),
      url: m[2],
      headers: req.msg.headers,
      bodyText: req.msg.body === '' ? undefined : req.msg.body,
      status: Number(s[1]),
      responseHeaders: res.msg.headers,
      responseText: res.msg.body === '' ? undefined : res.msg.body,
      startedAt: Number.isFinite(req.at) ? req.at : 0,
      latencyMs: Number.isFinite(res.latencyNs) ? res.latencyNs / 1e6 : 0,
    });
  }
  return { entries, bad };
}
