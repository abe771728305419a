/**
 * The one interface every kind implements. A kind is the plug-in code for a family of systems
 * (db, sftp, screen, http); an adapter is one configured connection of one kind, declared by a
 * folder under adapters/; a binding says how that adapter serves one operation.
 *
 * Life of an adapter: `create` (connection settings validated by `connectionSchema`), then `bind`
 * once per operation it serves (binding validated by `bindingSchema`; mistakes are reported with
 * `ctx.fail`, which names the file and key), then `start`, then calls, `health` checks, and `close`.
 */
import type { Readable } from 'node:stream';
import type { Context } from '@opentelemetry/api';
import type { Singletons } from '../cluster/singletons.ts';
import type { z } from 'zod';
import type { Env } from '../config/env.ts';
import type { Contract, ContractOperation } from '../contract/contract.ts';
import type { BodyKind } from '../http/media-types.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { PolicyOverrides } from '../resilience/policy-config.ts';
import type { SqlStore } from '../state/sql-store.ts';

/** One call of an operation, as the contract validator let it through (types already coerced). */
export interface OperationRequest {
  operationId: string;
  method: string;
  pathParams: Record<string, unknown>;
  query: Record<string, unknown>;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /**
   * JSON as parsed; a form (urlencoded or multipart) as an object of its fields (a file part as its
   * file name: the file itself is only in `bodySource`); text as a string; other media as bytes.
   */
  body: unknown;
  /** The Content-Type of a body that is not JSON, and its bytes as sent (kinds that pass bodies through). */
  media?: string;
  /** A form's, text's or bytes' body as sent (within `server.bodyLimit`). */
  rawBody?: Buffer;
  /** A multipart body as sent, kept on disk rather than in memory: pass it on with `open()`, never read it whole. */
  bodySource?: BodySource;
  requestId: string;
  /**
   * The caller's name once the front door (the contract's security) knows it; never the credential.
   * Features key on it (caching, limits, recording filters), logs and metrics name it.
   */
  consumer?: string;
  /** W3C `traceparent` of the gateway's span for this call, when traced (the outbox keeps it to link the delivery back). */
  traceparent?: string;
  /** The trace context of this call when traced (the request's span; within an attempt, the attempt's): carried with the request, not in async-local storage. */
  trace?: Context;
  /**
   * A shadow or replay call, not a caller's: kinds that can say so tell the backend (the http kind
   * sends `Ficus-Shadow: true`), so that a modern service can keep such calls apart (no side effects, no analytics).
   */
  shadow?: boolean;
  /** Aborted when the caller goes away or the policy's timeout fires: pass it to the I/O. */
  signal: AbortSignal;
}

/**
 * A request body too large to hold in memory (multipart with files), spooled to a temp file that
 * lives until the response is over and the streams opened on it are closed.
 */
export interface BodySource {
  /** Its length in bytes. */
  readonly size: number;
  /** Its bytes as sent, from the start: each call a stream of its own (a retry, a second backend), to be read to its end or destroyed. */
  open(): Readable;
}

/** What the backend answered, already mapped to the contract's shape. */
export interface OperationResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type OperationHandler = (req: OperationRequest) => Promise<OperationResult>;

export interface HealthReport {
  ok: boolean;
  detail?: string;
}

export interface AdapterContext<C> {
  /** The adapter's name: its folder name under adapters/. */
  name: string;
  /** Absolute path of the adapter's folder, where its assets (SQL, layouts, flows) live. */
  dir: string;
  /** The adapter file, relative to the project, for error messages. */
  file: string;
  connection: C;
  logger: Logger;
  metrics: GatewayMetrics;
  contract: Contract;
  /** The project's root folder. */
  root: string;
  /** The gateway's state store, for kinds that keep state (pending replies, say) across restarts. */
  store: SqlStore;
  /** The environment the config was read with: a kind reads settings from here, never from process.env. */
  env: Env;
  /** Where a loop only one instance may run (the sftp reply poller) is registered; absent: the adapter runs it itself. */
  singletons?: Singletons;
}

export interface BindContext<B> {
  operation: ContractOperation;
  binding: B;
  /** Where the binding sits in the adapter file, e.g. `operations.getCustomer`. */
  key: string;
  /** Reports a binding mistake at start-up: names the file and `key.subKey`, and the fix. */
  fail(subKey: string, problem: string, fix: string): never;
}

export interface Adapter<B> {
  bind(ctx: BindContext<B>): OperationHandler | Promise<OperationHandler>;
  /** Called once all bindings are made, before the gateway takes traffic (connect, warm up). */
  start?(): Promise<void>;
  health(): Promise<HealthReport>;
  /** Frees every resource; called on shutdown. */
  close(): Promise<void>;
}

export interface Kind<C, B> {
  name: string;
  /** Whether adapters of this kind are legacy systems or modern services unless they say otherwise. */
  defaultRole: 'legacy' | 'modern';
  connectionSchema: z.ZodType<C>;
  bindingSchema: z.ZodType<B>;
  /** Policy defaults for this kind, over the gateway's base policy. */
  defaultPolicy?: PolicyOverrides;
  /** The request bodies it can carry to its system (default: JSON only); checked against the contract at start-up. */
  bodies?: readonly BodyKind[];
  create(ctx: AdapterContext<C>): Adapter<B> | Promise<Adapter<B>>;
}

/** A kind with its types erased, as the registry holds it; the schemas guarantee the types at run time. */
export interface RegisteredKind {
  name: string;
  defaultRole: 'legacy' | 'modern';
  connectionSchema: z.ZodType;
  bindingSchema: z.ZodType;
  defaultPolicy?: PolicyOverrides;
  bodies?: readonly BodyKind[];
  create(ctx: AdapterContext<unknown>): Adapter<unknown> | Promise<Adapter<unknown>>;
}

export function defineKind<C, B>(kind: Kind<C, B>): RegisteredKind {
  return kind as unknown as RegisteredKind;
}
