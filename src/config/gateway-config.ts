/** The schema of ficus.yaml (the gateway) and of adapters/<name>/adapter.yaml (one adapter). */
import { z } from 'zod';
import { sizeBytes } from './units.ts';
import { policyOverridesSchema } from '../resilience/policy-config.ts';
import { adminConfigSchema, migrationRouteKeys } from '../control/route-config.ts';
import { writesConfigSchema } from '../writes/writes-config.ts';
import { recordingConfigSchema } from '../recording/recording-config.ts';
import { eventsConfigSchema } from '../changes/events-config.ts';
import { tracingConfigSchema } from '../observability/tracing/tracing-config.ts';
import { securityConfigSchema } from '../security/security-config.ts';
import { limitsConfigSchema } from '../limits/limits-config.ts';
import { cacheConfigSchema } from '../cache/cache-config.ts';

export const MODES = ['legacy', 'shadow', 'canary', 'fallback', 'modern'] as const;
export type ModeName = (typeof MODES)[number];

const port = z.coerce.number().int().min(0).max(65535);

/** `server.multipart`: the limits of a multipart/form-data body and where it is spooled (checked further by load-config.ts: fileLimit ≤ requestLimit, tempDir a writable folder). */
export const multipartConfigSchema = z
  .object({
    /** Largest file part, e.g. `25MiB` (413 naming the part past it). */
    fileLimit: sizeBytes.prefault('25MiB'),
    /** Largest multipart body as a whole, files and fields, e.g. `100MiB` (413 past it). */
    requestLimit: sizeBytes.prefault('100MiB'),
    /** The folder bodies are spooled to while they are checked and passed on (default: the system's temporary folder); relative to the project. */
    tempDir: z.string().min(1).optional(),
  })
  .strict()
  .prefault({});

export const routeConfigSchema = z
  .object({
    /** The backend choice at start-up; the control plane may switch it at run time. */
    mode: z.enum(MODES).optional(),
    /** Which adapter is the legacy backend, when more than one legacy adapter serves the operation. */
    legacy: z.string().optional(),
    /** Which adapter is the modern backend, when more than one modern adapter serves the operation. */
    modern: z.string().optional(),
    /** Canary percent, sticky key, fallback, shadowing, compare ignore rules, gates (src/control/route-config.ts). */
    ...migrationRouteKeys,
  })
  .strict();
export type RouteConfig = z.infer<typeof routeConfigSchema>;

export const gatewayConfigSchema = z
  .object({
    contract: z.string().default('openapi.yaml'),
    adaptersDir: z.string().default('adapters'),
    server: z
      .object({
        port: port.default(8080),
        host: z.string().default('0.0.0.0'),
        /** Largest request body accepted, e.g. `1mb`, `100kb` (413 past it). */
        bodyLimit: sizeBytes.prefault('1MiB'),
        /** multipart/form-data bodies: spooled to a temp file as they stream in, never held whole in memory (src/http/multipart-reader.ts). */
        multipart: multipartConfigSchema,
        /** Serve the API reference page at /docs. */
        docs: z.boolean().default(true),
        /** A writeOnly property in a backend's answer: refused (502, as a contract violation) or removed before it is sent. */
        writeOnly: z.enum(['refuse', 'remove']).default('refuse'),
        /** Where /metrics is served: on this port too (public), or on the admin port only (admin, where it always is). */
        metrics: z.enum(['public', 'admin']).default('public'),
        /** Who sees /readyz's details (each adapter, the state store, the features, and why they are down): callers of this port too (public), or only the admin port's /readyz (admin; this port answers ready or not ready). */
        readyzDetails: z.enum(['public', 'admin']).default('public'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    /** Policy overrides applied to every binding, over each kind's defaults. */
    policy: policyOverridesSchema.optional(),
    routes: z.record(z.string(), routeConfigSchema).default({}),
    /** Where run-time state lives: a SQLite file (default), or PostgreSQL shared by several instances. */
    state: z
      .discriminatedUnion('driver', [
        z
          .object({
            driver: z.literal('sqlite'),
            file: z.string().default('var/ficus-state.sqlite'),
            /** How long a statement waits (without blocking) for a lock another process holds on the file. */
            busyTimeoutMs: z.coerce.number().int().min(0).default(5_000),
          })
          .strict(),
        z
          .object({
            driver: z.literal('postgres'),
            url: z.string(),
            poolSize: z.coerce.number().int().min(1).default(10),
            /** How long getting a connection may take. */
            connectTimeoutMs: z.coerce.number().int().min(1).default(3_000),
            /** How long a statement may run (server side; this side waits 1 s more for its answer). */
            statementTimeoutMs: z.coerce.number().int().min(1).default(5_000),
          })
          .strict(),
      ])
      .default({ driver: 'sqlite', file: 'var/ficus-state.sqlite', busyTimeoutMs: 5_000 }),
    /** The admin API and migration dashboard, on their own port (src/control). */
    admin: adminConfigSchema.prefault({}),
    /** Idempotency keys, the durable outbox and the dead-letter queue (src/writes). */
    writes: writesConfigSchema.prefault({}),
    /** Recording exchanges to recordings/ for replay (src/recording); every route off unless listed. */
    recording: recordingConfigSchema.prefault({}),
    /** Change feeds' events: where they are delivered and how (src/changes). */
    events: eventsConfigSchema.prefault({}),
    /** OpenTelemetry tracing over OTLP/HTTP, off by default (src/observability/tracing; OTEL_* variables too). */
    tracing: tracingConfigSchema.prefault({}),
    /** The front door: how the contract's security schemes are verified (src/security). */
    security: securityConfigSchema.prefault({}),
    /** Rates and quotas per consumer and operation, and each legacy adapter's ceiling (src/limits). */
    limits: limitsConfigSchema.prefault({}),
    /** Response caching and coalescing of reads, invalidations by writes, Redis shared by instances (src/cache). */
    cache: cacheConfigSchema.prefault({}),
  })
  .strict();
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

export const adapterFileSchema = z
  .object({
    kind: z.string(),
    role: z.enum(['legacy', 'modern']).optional(),
    description: z.string().optional(),
    connection: z.record(z.string(), z.unknown()).default({}),
    policy: policyOverridesSchema.optional(),
    operations: z.record(z.string(), z.record(z.string(), z.unknown())),
    /** Change feeds of this legacy system, checked by the changes feature (src/changes). */
    changes: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type AdapterFile = z.infer<typeof adapterFileSchema>;
