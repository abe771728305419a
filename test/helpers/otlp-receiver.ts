/**
 * A trace receiver on loopback that takes what an OTLP/HTTP exporter posts to /v1/traces, in JSON or
 * in protobuf, and decodes it (the protobuf by the OTLP schema's field numbers, with a small wire-format
 * reader: no generated code) into one flat list of spans a test can look through.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  events: { name: string; attributes: Record<string, unknown> }[];
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  service: string;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpReceiver {
  /** The base URL (as OTEL_EXPORTER_OTLP_ENDPOINT). */
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the exports received. */
  contentTypes: string[];
  close(): Promise<void>;
}

// ---- protobuf wire format ----
class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  /** Each field of a message: its number, wire type and value (a sub-reader's bytes for length-delimited). */
  *fields(): Generator<{ no: number; type: number; varint?: bigint; bytes?: Buffer; fixed64?: Buffer }> {
    while (!this.done) {
      const tag = Number(this.varint());
      const no = tag >> 3;
      const type = tag & 7;
      if (type === 0) yield { no, type, varint: this.varint() };
      else if (type === 1) {
        yield { no, type, fixed64: this.buf.subarray(this.pos, this.pos + 8) };
        this.pos += 8;
      } else if (type === 2) {
        const len = Number(this.varint());
        yield { no, type, bytes: this.buf.subarray(this.pos, this.pos + len) };
        this.pos += len;
      } else if (type === 5) this.pos += 4;
      else throw new Error(`unsupported wire type ${type}`);
    }
  }
}

function anyValue(buf: Buffer): unknown {
  for (const f of new Reader(buf).fields()) {
    if (f.no === 1) return f.bytes!.toString('utf8');
    if (f.no === 2) return f.varint !== 0n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.varint!));
    if (f.no === 4) return f.fixed64!.readDoubleLE(0);
    if (f.no === 5) {
      const values: unknown[] = [];
      for (const v of new Reader(f.bytes!).fields()) if (v.no === 1) values.push(anyValue(v.bytes!));
      return values;
    }
  }
  return undefined;
}

function keyValues(list: Buffer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    let key = '';
    let value: unknown;
    for (const f of new Reader(kv).fields()) {
      if (f.no === 1) key = f.bytes!.toString('utf8');
      if (f.no === 2) value = anyValue(f.bytes!);
    }
    out[key] = value;
  }
  return out;
}

function decodeProtoSpan(buf: Buffer, service: string): ReceivedSpan {
  const span: ReceivedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, attributes: {}, links: [], events: [], statusCode: 0, service };
  const attrs: Buffer[] = [];
  for (const f of new Reader(buf).fields()) {
    if (f.no === 1) span.traceId = f.bytes!.toString('hex');
    else if (f.no === 2) span.spanId = f.bytes!.toString('hex');
    else if (f.no === 4) span.parentSpanId = f.bytes!.toString('hex');
    else if (f.no === 5) span.name = f.bytes!.toString('utf8');
    else if (f.no === 6) span.kind = Number(f.varint);
    else if (f.no === 9) attrs.push(f.bytes!);
    else if (f.no === 11) {
      let name = '';
      const ea: Buffer[] = [];
      for (const e of new Reader(f.bytes!).fields()) {
        if (e.no === 2) name = e.bytes!.toString('utf8');
        if (e.no === 3) ea.push(e.bytes!);
      }
      span.events.push({ name, attributes: keyValues(ea) });
    } else if (f.no === 13) {
      const link = { traceId: '', spanId: '', attributes: {} as Record<string, unknown> };
      const la: Buffer[] = [];
      for (const l of new Reader(f.bytes!).fields()) {
        if (l.no === 1) link.traceId = l.bytes!.toString('hex');
        if (l.no === 2) link.spanId = l.bytes!.toString('hex');
        if (l.no === 4) la.push(l.bytes!);
      }
      link.attributes = keyValues(la);
      span.links.push(link);
    } else if (f.no === 15) {
      for (const s of new Reader(f.bytes!).fields()) if (s.no === 3) span.statusCode = Number(s.varint);
    }
  }
  span.attributes = keyValues(attrs);
  return span;
}

/** ExportTraceServiceRequest (protobuf) → spans. */
export function decodeProtobuf(buf: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of new Reader(buf).fields()) {
    if (rs.no !== 1) continue;
    let service = '';
    const scopeSpans: Buffer[] = [];
    for (const f of new Reader(rs.bytes!).fields()) {
      if (f.no === 1) {
        const ra: Buffer[] = [];
        for (const r of new Reader(f.bytes!).fields()) if (r.no === 1) ra.push(r.bytes!);
        service = String(keyValues(ra)['service.name'] ?? '');
      }
      if (f.no === 2) scopeSpans.push(f.bytes!);
    }
    for (const ss of scopeSpans) for (const f of new Reader(ss).fields()) if (f.no === 2) out.push(decodeProtoSpan(f.bytes!, service));
  }
  return out;
}

// ---- JSON (OTLP/JSON: ids in hex, enums as numbers) ----
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}
function jsonValue(v: JsonAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}
const jsonAttrs = (list: JsonKeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: JsonKeyValue[];
  links?: { traceId: string; spanId: string; attributes?: JsonKeyValue[] }[];
  events?: { name: string; attributes?: JsonKeyValue[] }[];
  status?: { code?: number };
}
export function decodeJson(body: { resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { spans?: JsonSpan[] }[] }[] }): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = String(jsonAttrs(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: jsonAttrs(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: jsonAttrs(l.attributes) })),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: jsonAttrs(e.attributes) })),
          statusCode: s.status?.code ?? 0,
          service,
        });
  }
  return out;
}

/** Starts the receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(req.headers['content-type'] ?? '');
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(type);
      try {
        if (type.startsWith('application/json')) {
          spans.push(...decodeJson(JSON.parse(body.toString('utf8')) as Parameters<typeof decodeJson>[0]));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          spans.push(...decodeProtobuf(body));
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        }
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
