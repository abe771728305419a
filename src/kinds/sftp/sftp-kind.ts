/**
 * The sftp kind: a legacy system that trades fixed-width record files over SFTP (a mainframe's
 * nightly exports and its order drop). Three sorts of binding:
 *
 * - `read`: get and list operations served from the newest complete export file (see export-reader.ts),
 *   cached between polls, with its freshness in the `X-Data-As-Of`/`X-Data-Age-Seconds` headers and
 *   the `ficus_sftp_export_age_seconds` metric;
 * - `request` + `reply`: a POST written as records of an inbound file, answered from the reply file
 *   (see request-reply.ts and the modules it composes), with 202 and a status resource when the reply is late;
 * - `status`: the status resource of such requests (GET /orders/{orderId}), from the state store.
 *
 * Connection settings (adapter.yaml `connection:`): host, port, username, password or privateKey
 * (from the environment), knownHosts (an OpenSSH known_hosts file; a host key not listed is refused),
 * maxConnections, keepAliveIntervalMs, pollIntervalMs and the folders.
 */
import { annotateAttempt } from '../../observability/tracing/current.ts';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { ConfigError } from '../../config/config-error.ts';
import { formatSize, sizeBytes } from '../../config/units.ts';
import { defineKind, type AdapterContext, type Adapter, type BindContext, type OperationHandler, type OperationRequest } from '../kind.ts';
import { problems } from '../../problem.ts';
import { LayoutFileError, loadRecordFileSpec, type RecordFileSpec } from '../../records/layout-file.ts';
import { registerCodePages } from '../../records/code-pages.ts';
import type { GatewayMetrics } from '../../observability/metrics.ts';
import { fieldMapSchema, toContract, type FieldMap } from './field-map.ts';
import { ExportFiles, ExportReader, globToRegExp, type ExportSnapshot } from './export-reader.ts';
import { KnownHosts } from './known-hosts.ts';
import { RequestReply, type RequestConfig } from './request-reply.ts';
import { sftpFailure } from './sftp-failures.ts';
import { SftpPool } from './sftp-pool.ts';

const connectionSchema = z
  .object({
    host: z.string().min(1),
    port: z.coerce.number().int().min(1).max(65535).default(22),
    username: z.string().min(1),
    /** From the environment: `password: ${env:MAINFRAME_SFTP_PASSWORD}`. */
    password: z.string().optional(),
    /** From the environment: the key itself (OpenSSH or PEM text) or the path of a key file. */
    privateKey: z.string().optional(),
    passphrase: z.string().optional(),
    /** An OpenSSH known_hosts file listing the server's host key (relative to the project root). */
    knownHosts: z.string().min(1),
    maxConnections: z.coerce.number().int().min(1).max(64).default(4),
    keepAliveIntervalMs: z.coerce.number().int().min(0).default(10_000),
    keepAliveCountMax: z.coerce.number().int().min(1).default(3),
    connectTimeoutMs: z.coerce.number().int().min(100).default(5_000),
    idleTimeoutMs: z.coerce.number().int().min(100).default(60_000),
    /** How often the reply folder is looked at while requests wait. */
    pollIntervalMs: z.coerce.number().int().min(10).default(250),
    folders: z
      .object({
        inbound: z.string().default('inbound'),
        replies: z.string().default('outbound'),
        archive: z.string().default('archive'),
        quarantine: z.string().default('quarantine'),
        exports: z.string().default('exports'),
      })
      .strict()
      .default({ inbound: 'inbound', replies: 'outbound', archive: 'archive', quarantine: 'quarantine', exports: 'exports' }),
  })
  .strict()
  .refine((c) => (c.password ?? '') !== '' || (c.privateKey ?? '') !== '', { message: 'give a password or a privateKey (from the environment)', path: ['password'] });

const readSchema = z
  .object({
    dir: z.string().optional(),
    pattern: z.string().min(1),
    layout: z.string().min(1),
    record: z.string().optional(),
    /** The record field that the path parameter is looked up by (get operations). */
    key: z.string().min(1),
    /** The path parameter holding the key; default the operation's only path parameter. */
    param: z.string().optional(),
    refreshMs: z.coerce.number().int().min(0).default(30_000),
    asOf: z.object({ date: z.string(), time: z.string().optional() }).strict().optional(),
    fallback: z.coerce.number().int().min(0).max(20).default(3),
    /** The largest export file read: bytes, or a size such as `500MB` or `2GiB`; a larger file is refused with an error naming it. */
    maxFileSize: sizeBytes.prefault('2GiB'),
    /** item: one record by key (404 when absent); page: `{ items, nextCursor }`. Default: item when the path has a parameter. */
    as: z.enum(['item', 'page']).optional(),
  })
  .strict();

const statusValues = z.union([z.string(), z.number()]);
const requestSchema = z
  .object({
    layout: z.string().min(1),
    record: z.string().default('detail'),
    file: z.string().includes('{fileId}'),
    header: z.record(z.string(), z.string()).default({}),
    trailer: z.record(z.string(), z.string()).default({}),
    id: z
      .object({
        field: z.string().default('orderId'),
        record: z.string().min(1),
        prefix: z.string().default(''),
        length: z.coerce.number().int().min(8).max(64).default(16),
        header: z.string().default('Idempotency-Key'),
      })
      .strict(),
    batch: z.object({ items: z.string() }).strict().optional(),
  })
  .strict();

const replySchema = z
  .object({
    layout: z.string().min(1),
    record: z.string().default('detail'),
    file: z.string().includes('{fileId}'),
    key: z.string().min(1),
    status: z.object({ field: z.string(), accepted: z.array(statusValues).min(1), rejected: z.array(statusValues).default([]) }).strict(),
    map: fieldMapSchema.default({}),
    rejection: z.object({ code: z.string(), reason: z.string() }).strict().optional(),
    timeoutMs: z.coerce.number().int().min(0).default(2_500),
  })
  .strict();

const bindingSchema = z
  .object({
    read: readSchema.optional(),
    request: requestSchema.optional(),
    reply: replySchema.optional(),
    status: z.object({ param: z.string().optional() }).strict().optional(),
    /** Contract field → record field (read: from the export record; request: into the inbound record). */
    map: fieldMapSchema.default({}),
    response: z
      .object({
        echo: z.array(z.string()).default([]),
        location: z.string().optional(),
        /** The fields of the created resource that a 201 answer carries (default: all of them, with its status and createdAt). */
        fields: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .default({ echo: [] }),
  })
  .strict();

export type SftpConnection = z.infer<typeof connectionSchema>;
export type SftpBinding = z.infer<typeof bindingSchema>;
export type SftpReadBinding = z.infer<typeof readSchema>;

const ageGauges = new WeakMap<GatewayMetrics, { gauge: Gauge<'adapter' | 'operation'>; sources: Map<string, () => Date | undefined> }>();

function exportAgeGauge(metrics: GatewayMetrics): { sources: Map<string, () => Date | undefined> } {
  let hit = ageGauges.get(metrics);
  if (!hit) {
    const sources = new Map<string, () => Date | undefined>();
    const gauge = new Gauge({
      name: 'ficus_sftp_export_age_seconds',
      help: 'Age of the export file served by each sftp read binding (from the export time it carries)',
      labelNames: ['adapter', 'operation'],
      registers: [metrics.registry],
      // A cluster's workers each hold a snapshot: the oldest one served counts.
      aggregator: 'max',
      collect() {
        for (const [k, asOf] of sources) {
          const at = asOf();
          const [adapter, operation] = k.split('\0');
          if (at) this.set({ adapter, operation }, Math.max(0, (Date.now() - at.getTime()) / 1000));
        }
      },
    });
    hit = { gauge, sources };
    ageGauges.set(metrics, hit);
  }
  return hit;
}

function privateKeyOf(value: string | undefined, root: string): string | undefined {
  if (!value) return undefined;
  if (value.includes('PRIVATE KEY')) return value.replace(/\\n/g, '\n');
  const path = isAbsolute(value) ? value : join(root, value);
  return readFileSync(path, 'utf8');
}

/** A pool of SFTP sessions from an adapter's connection settings (the adapter's own, and its change feeds'). */
export function createSftpPool(c: SftpConnection, root: string, file: string): SftpPool {
  const knownHostsFile = isAbsolute(c.knownHosts) ? c.knownHosts : join(root, c.knownHosts);
  let knownHosts: KnownHosts;
  try {
    knownHosts = KnownHosts.load(knownHostsFile);
  } catch (err) {
    throw new ConfigError(
      file,
      'connection.knownHosts',
      (err as Error).message,
      'set connection.knownHosts to an OpenSSH known_hosts file that lists the server (ssh-keyscan -p <port> <host> > known_hosts)',
    );
  }
  return new SftpPool({
    host: c.host,
    port: c.port,
    username: c.username,
    password: c.password || undefined,
    privateKey: privateKeyOf(c.privateKey, root),
    passphrase: c.passphrase || undefined,
    knownHosts,
    maxConnections: c.maxConnections,
    keepAliveIntervalMs: c.keepAliveIntervalMs,
    keepAliveCountMax: c.keepAliveCountMax,
    connectTimeoutMs: c.connectTimeoutMs,
    idleTimeoutMs: c.idleTimeoutMs,
  });
}

class SftpAdapter implements Adapter<SftpBinding> {
  private readonly pool: SftpPool;
  private readonly rr: RequestReply;
  private readonly readers: ExportReader[] = [];
  /** Export files loaded once for every read binding of this adapter. */
  private readonly exportFiles = new ExportFiles();
  private readonly specs = new Map<string, RecordFileSpec>();

  constructor(private readonly ctx: AdapterContext<SftpConnection>) {
    registerCodePages();
    this.pool = createSftpPool(ctx.connection, ctx.root, ctx.file);
    this.rr = new RequestReply(ctx.name, this.pool, ctx.store, ctx.connection.folders, ctx.connection.pollIntervalMs, ctx.logger, ctx.singletons);
  }

  /** For tests and the fault suites: the connection pool and the request/reply engine. */
  get internals(): { pool: SftpPool; requestReply: RequestReply } {
    return { pool: this.pool, requestReply: this.rr };
  }

  private layout(b: BindContext<SftpBinding>, key: string, file: string): RecordFileSpec {
    const path = isAbsolute(file) ? file : join(this.ctx.dir, file);
    const hit = this.specs.get(path);
    if (hit) return hit;
    if (!existsSync(path)) b.fail(key, `layout file ${file} not found (looked at ${path})`, `put the layout in the adapter folder (${this.ctx.dir}) or give its path`);
    try {
      const spec = loadRecordFileSpec(path, {}, `${this.ctx.file.replace(/adapter\.yaml$/, '')}${file}`);
      this.specs.set(path, spec);
      return spec;
    } catch (err) {
      if (err instanceof LayoutFileError) return b.fail(key, err.message, err.fix);
      throw err;
    }
  }

  private recordOf(b: BindContext<SftpBinding>, key: string, spec: RecordFileSpec, name: string | undefined): string {
    const details = spec.types.filter((t) => t.role === 'detail');
    const chosen = name ?? (details.length === 1 ? details[0].name : undefined);
    if (!chosen || !spec.types.some((t) => t.name === chosen))
      b.fail(key, name ? `no record type ${name} in the layout` : 'the layout has several detail record types', `use one of: ${spec.types.map((t) => t.name).join(', ')}`);
    return chosen!;
  }

  bind(b: BindContext<SftpBinding>): OperationHandler {
    const binding = b.binding;
    const kinds = [binding.read, binding.request, binding.status].filter(Boolean).length;
    if (kinds !== 1) b.fail('', 'a binding of the sftp kind needs exactly one of read, request or status', 'read: (exports), request: + reply: (writes), or status: {} (the status resource)');
    if (binding.read) return this.bindRead(b, binding.read, binding.map);
    if (binding.request) return this.bindRequest(b, binding);
    return this.bindStatus(b, binding.status!);
  }

  private bindRead(b: BindContext<SftpBinding>, read: z.infer<typeof readSchema>, map: FieldMap): OperationHandler {
    const spec = this.layout(b, 'read.layout', read.layout);
    const record = this.recordOf(b, 'read.record', spec, read.record);
    const pathParams = b.operation.parameters.filter((p) => p.in === 'path').map((p) => p.name);
    const as = read.as ?? (pathParams.length > 0 ? 'item' : 'page');
    const param = read.param ?? pathParams[0];
    if (as === 'item' && (!param || !pathParams.includes(param)))
      b.fail('read.param', `${b.operation.operationId} has no path parameter ${param ?? ''}`, `use one of: ${pathParams.join(', ') || '(none: use as: page)'}`);
    const reader = new ExportReader(
      this.pool,
      {
        dir: read.dir ?? this.ctx.connection.folders.exports,
        pattern: globToRegExp(read.pattern),
        spec,
        record,
        key: read.key,
        refreshMs: read.refreshMs,
        asOf: read.asOf,
        fallback: read.fallback,
        maxBytes: read.maxFileSize,
        maxBytesText: formatSize(read.maxFileSize),
        adapter: this.ctx.name,
      },
      this.ctx.logger.child({ operation: b.operation.operationId }),
      this.exportFiles,
    );
    this.readers.push(reader);
    let last: ExportSnapshot | undefined;
    exportAgeGauge(this.ctx.metrics).sources.set(`${this.ctx.name}\0${b.operation.operationId}`, () => last?.asOf);
    const freshness = (s: ExportSnapshot): Record<string, string> => ({
      'X-Data-As-Of': s.asOf.toISOString(),
      'X-Data-Age-Seconds': String(Math.max(0, Math.round((Date.now() - s.asOf.getTime()) / 1000))),
      'X-Data-Source': s.file,
    });
    const snapshot = async (req: OperationRequest) => {
      const signal = req.signal;
      try {
        last = await reader.current(signal);
        const s = last;
        annotateAttempt(req, () => ({ 'ficus.sftp.remote_file': s.file, 'ficus.sftp.record_count': s.count, 'ficus.sftp.data_as_of': s.asOf.toISOString() }));
        return last;
      } catch (err) {
        throw sftpFailure(this.ctx.name, err, { status: 503, code: 'sftp_export' });
      }
    };
    if (as === 'item') {
      return async (req) => {
        const s = await snapshot(req);
        const rec = await s.get(String(req.pathParams[param!]));
        if (!rec) throw problems.notFound(`no record with ${read.key} ${String(req.pathParams[param!])} in the export ${s.file}`);
        return { status: 200, body: toContract(rec, map), headers: freshness(s) };
      };
    }
    return async (req) => {
      const s = await snapshot(req);
      const limit = Number(req.query.limit ?? 20);
      let start = 0;
      const cursor = req.query.cursor;
      if (typeof cursor === 'string' && cursor !== '') {
        const m = /^(.+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
        if (!m) throw problems.validation('the cursor is not one this API gave out', [{ field: 'cursor', message: 'unknown cursor' }]);
        start = Number(m[2]);
        if (m[1] !== s.file) {
          // A newer export came in: continue after the last key seen, in the new file.
          const lastKey = m[1].split('\0')[1];
          start = lastKey ? await s.indexAfter(lastKey) : 0;
        }
      }
      const page = await s.page(start, limit);
      const next = start + limit < s.count ? Buffer.from(`${s.file}:${start + limit}`, 'utf8').toString('base64url') : null;
      return { status: 200, body: { items: page.map((r) => toContract(r, map)), nextCursor: next }, headers: freshness(s) };
    };
  }

  private bindRequest(b: BindContext<SftpBinding>, binding: SftpBinding): OperationHandler {
    const request = binding.request!;
    const reply = binding.reply;
    if (!reply) return b.fail('reply', 'a request binding needs a reply: block', 'say where the answer comes from: reply: { layout, file, key, status }');
    const spec = this.layout(b, 'request.layout', request.layout);
    const record = this.recordOf(b, 'request.record', spec, request.record);
    const replySpec = this.layout(b, 'reply.layout', reply.layout);
    const replyRecord = this.recordOf(b, 'reply.record', replySpec, reply.record);
    const statusPath = this.statusPath(b);
    const config: RequestConfig = {
      operationId: b.operation.operationId,
      spec,
      record,
      file: request.file,
      header: request.header,
      trailer: request.trailer,
      id: request.id,
      map: binding.map,
      echo: binding.response.echo,
      fields: binding.response.fields,
      batchItems: request.batch?.items,
      location: binding.response.location ?? statusPath,
      reply: { spec: replySpec, record: replyRecord, file: reply.file, key: reply.key, status: reply.status, map: reply.map, rejection: reply.rejection, timeoutMs: reply.timeoutMs },
    };
    this.rr.add(config);
    return (req) => this.rr.handle(config, req);
  }

  private statusPath(b: BindContext<SftpBinding>): string | undefined {
    // The status resource: the GET path of the contract with one parameter under the POST's path.
    const base = b.operation.path.replace(/\/batch$/, '');
    return b.operation.path.endsWith('/batch') ? undefined : `${base}/{id}`;
  }

  private bindStatus(b: BindContext<SftpBinding>, status: { param?: string }): OperationHandler {
    const pathParams = b.operation.parameters.filter((p) => p.in === 'path').map((p) => p.name);
    const param = status.param ?? pathParams[0];
    if (!param || !pathParams.includes(param)) b.fail('status.param', `${b.operation.operationId} has no path parameter ${param ?? ''}`, `use one of: ${pathParams.join(', ') || '(none)'}`);
    this.rr.serveStatus();
    return async (req) => {
      const id = String(req.pathParams[param]);
      const body = await this.rr.status(id);
      if (!body) throw problems.notFound(`no request ${id} is known to ${this.ctx.name}`);
      return { status: 200, body };
    };
  }

  async start(): Promise<void> {
    await this.rr.start();
  }

  async health() {
    try {
      await this.pool.use((s) => s.list('.'), { idempotent: true, signal: AbortSignal.timeout(2_500) });
      const s = this.pool.stats;
      return { ok: true, detail: `${this.pool.where}: ${s.open} open connection(s), ${s.connects} made${this.rr.lastPollError ? `; last reply poll failed: ${this.rr.lastPollError}` : ''}` };
    } catch (err) {
      return { ok: false, detail: `${this.pool.where}: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async close(): Promise<void> {
    for (const r of this.readers) r.close();
    this.exportFiles.close();
    await this.rr.stop();
    await this.pool.close();
  }
}

export const sftpKind = defineKind<SftpConnection, SftpBinding>({
  name: 'sftp',
  defaultRole: 'legacy',
  bodies: ['json'],
  connectionSchema: connectionSchema as unknown as z.ZodType<SftpConnection>,
  bindingSchema: bindingSchema as unknown as z.ZodType<SftpBinding>,
  defaultPolicy: { timeoutMs: 15_000, retry: { maxRetries: 1 }, concurrency: { limit: 32, queue: 256 } },
  create: (ctx) => new SftpAdapter(ctx),
});
