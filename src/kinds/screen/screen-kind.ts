/**
 * The screen kind: serves operations by driving a legacy web UI in the system's headless Chromium,
 * as a clerk would. Each binding names a flow (a TypeScript file in the adapter's folder) and maps
 * what the flow returns onto the contract; the adapter keeps one browser, a bounded pool of
 * logged-in pages, and evidence of failed flows.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../config/config-error.ts';
import { defineKind } from '../kind.ts';
import { findBrowser } from './browser-discovery.ts';
import { loadModule, type LoginFlow } from './flow.ts';
import { INPUT_SOURCE } from './flow-input.ts';
import { templateSchema } from './output-mapping.ts';
import { ScreenAdapter } from './screen-adapter.ts';

const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);

const connectionSchema = z
  .object({
    /** The legacy web app, e.g. http://127.0.0.1:8083 */
    baseUrl: z.url(),
    /** The browser to drive; default FICUS_CHROMIUM, then the system's Chromium (Debian: /usr/bin/chromium). */
    executablePath: z.preprocess(emptyAsUndefined, z.string().optional()),
    /** Extra Chromium flags, after the headless ones the kind always passes. */
    browserArgs: z.array(z.string()).default([]),
    /**
     * The browser's niceness (0–19): above 0 it runs at a lower CPU priority than the gateway, so
     * that a flood of screen requests, which keeps the browser's pages busy on every core, does not
     * hold up the gateway's other routes. 0: the browser runs at the gateway's priority.
     */
    browserNice: z.coerce.number().int().min(0).max(19).default(10),
    /**
     * Where Playwright's server side (what drives Chromium step by step) runs: `process`, in a child
     * process of the gateway's, at the browser's niceness, so that its CPU is not taken on the
     * gateway's event loop; `inline`, in the gateway's own process (one process fewer, and the CPU of
     * every flow's steps on the gateway's event loop).
     */
    browserServer: z.enum(['process', 'inline']).default('process'),
    /** How the gateway signs on to the legacy app with its own credentials. */
    login: z
      .object({
        /** A module whose default export is defineLogin({...}), relative to the adapter's folder. */
        flow: z.string().min(1),
        username: z.string().min(1),
        password: z.string().min(1),
        /** After the legacy app refuses the credentials, do not try again for this long. */
        retryRefusedAfterMs: z.coerce.number().int().min(0).default(30_000),
      })
      .strict()
      .optional(),
    pool: z
      .object({
        /** Pages in use at once: the legacy system's concurrency limit. */
        size: z.coerce.number().int().min(1).max(64).default(4),
        /** Requests of one operation that may wait for a page; past that, 503 at once (waiting is also bounded in time: the policy's concurrency.queueTimeoutMs). */
        queue: z.coerce.number().int().min(0).default(100),
        /** Pages one operation may hold at once, so that a flood of one leaves pages for the others; default size - 1 (at least 1). */
        perOperation: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
        /** A page is replaced by a fresh one after this many flows. */
        maxUsesPerPage: z.coerce.number().int().min(1).default(200),
        /** The browser itself is replaced, without failing a request, after this many flows (0: never). */
        maxFlowsPerBrowser: z.coerce.number().int().min(0).default(1000),
        /** Launch the browser, sign on and open the pages at start-up. */
        warm: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    timeouts: z
      .object({
        /** Each click, fill or read. */
        actionMs: z.coerce.number().int().min(1).default(10_000),
        /** Each page load. */
        navigationMs: z.coerce.number().int().min(1).default(15_000),
        launchMs: z.coerce.number().int().min(1).default(30_000),
        /**
         * The probe's window: a browser that leaves a probe unanswered for three windows in a row
         * while its process is stopped or idle (not running, not waiting for a CPU) is hung and is
         * replaced; windows that pass while the machine is busy do not count (30 s at most).
         */
        probeMs: z.coerce.number().int().min(1).default(3_000),
        /** Probe the browser this often (0: only after a flow was cut off). */
        probeIntervalMs: z.coerce.number().int().min(0).default(15_000),
      })
      .strict()
      .prefault({}),
    evidence: z
      .object({
        /** Where screenshots and traces of failed flows go (relative to the project), in a folder named after the adapter. */
        dir: z.string().default('var/evidence'),
        /** Evidence sets kept; older ones are deleted. */
        keep: z.coerce.number().int().min(0).default(50),
        /**
         * Record a Playwright trace of each flow, saved when it fails. Off by default: it halves
         * throughput and playwright-core's client keeps ~28 KB per traced flow (measured); turn it on
         * to diagnose a flow.
         */
        trace: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const bindingSchema = z
  .object({
    /** The flow module, relative to the adapter's folder, e.g. flows/get-account.ts */
    flow: z.string().regex(/\.(ts|mts|js|mjs)$/, 'a .ts or .js file, e.g. flows/get-account.ts'),
    /** flowField: path.x | query.x | body.x | body. Default: path parameters, query and body fields by name. */
    input: z.record(z.string(), z.string().regex(INPUT_SOURCE, 'path.<name>, query.<name>, body.<name> or body')).optional(),
    /** The response body, mapped from what the flow returns (see output-mapping.ts). */
    output: templateSchema,
    /** The success status. */
    status: z.coerce.number().int().min(200).max(299).default(200),
  })
  .strict();

export type ScreenConnection = z.infer<typeof connectionSchema>;
export type ScreenBinding = z.infer<typeof bindingSchema>;

export const screenKind = defineKind<ScreenConnection, ScreenBinding>({
  name: 'screen',
  defaultRole: 'legacy',
  bodies: ['json', 'form'],
  connectionSchema,
  bindingSchema,
  // Legacy screens are slow and fragile: a generous timeout, one retry for safe operations only.
  defaultPolicy: { timeoutMs: 20_000, retry: { maxRetries: 1 }, concurrency: { limit: 64, queue: 256 } },
  async create(ctx) {
    const conn = ctx.connection;
    const found = findBrowser(conn.executablePath, ctx.env);
    if (!found.ok && conn.executablePath !== undefined) throw new ConfigError(ctx.file, 'connection.executablePath', found.reason, found.fix);
    if (found.ok) ctx.logger.info({ executablePath: found.path, how: found.how }, `screen adapter ${ctx.name}: using the browser at ${found.path} (${found.how})`);
    else ctx.logger.error({ reason: found.reason, fix: found.fix }, `screen adapter ${ctx.name}: no browser, its operations will answer 503: ${found.reason}; ${found.fix}`);
    let login: LoginFlow | undefined;
    if (conn.login) {
      try {
        login = (await loadModule(ctx.dir, conn.login.flow, 'login')) as LoginFlow;
      } catch (err) {
        throw new ConfigError(ctx.file, 'connection.login.flow', (err as Error).message, 'name a file in the adapter folder whose default export is defineLogin({...})');
      }
    }
    const evidenceDir = join(isAbsolute(conn.evidence.dir) ? conn.evidence.dir : join(ctx.root, conn.evidence.dir), ctx.name);
    return new ScreenAdapter(ctx, found, login, evidenceDir);
  },
});
