/**
 * One screen adapter: its bindings (flow + input + output mapping), its browser pool, its legacy
 * session and its evidence folder. A call: input checked against the flow's limits (422 before the
 * browser), a page from the pool, the session brought up to date, the flow run (once more after a
 * fresh sign-on if the legacy app ended the session), its result checked and mapped.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { APIResponse, Route } from 'playwright-core';
import type { Adapter, AdapterContext, BindContext, HealthReport, OperationHandler, OperationRequest } from '../kind.ts';
import { UpstreamError } from '../../problem.ts';
import { browserArgs, type BrowserFound } from './browser-discovery.ts';
import { BrowserPool, type Slot } from './browser-pool.ts';
import { pagesForThisProcess } from './pool-share.ts';
import { EvidenceStore } from './evidence.ts';
import { toFailure, type FailureContext } from './failures.ts';
import { loadModule, type AnyFlow, type LoginFlow } from './flow.ts';
import { buildInput, checkInput } from './flow-input.ts';
import { applyTemplate, checkTemplate, type Template } from './output-mapping.ts';
import { Screen } from './screen.ts';
import { SessionExpired } from './screen-errors.ts';
import type { ScreenBinding, ScreenConnection } from './screen-kind.ts';
import { registerPoolMetrics } from './screen-metrics.ts';
import { SessionKeeper } from './session.ts';
import { annotateAttempt } from '../../observability/tracing/current.ts';

const ANY_URL = () => true;

/**
 * Chromium sends a request again, a form's POST included, when the connection closes without an
 * answer (ERR_EMPTY_RESPONSE): a write would reach the legacy app twice. While a flow of an unsafe
 * operation runs, requests other than GET and HEAD are sent from here instead, once (no retry, no
 * redirect followed: the page follows it), with the context's cookies; a failure shows the page a
 * failed request, as Chromium would. (Only then: intercepting every request costs reads time.)
 */
async function sendWritesOnce(route: Route): Promise<void> {
  const method = route.request().method();
  if (method === 'GET' || method === 'HEAD') return route.fallback();
  let response: APIResponse;
  try {
    response = await route.fetch({ maxRetries: 0, maxRedirects: 0 });
  } catch {
    return route.abort('connectionfailed').catch(() => undefined);
  }
  await route.fulfill({ response }).catch(() => undefined);
}

/** For a value a flow types: the request field it came from (the flow's input, by value). */
function fieldsOf(input: unknown, sources: Record<string, string>): (value: string) => string | undefined {
  return (value) => {
    if (input === null || typeof input !== 'object') return undefined;
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) if (v === value) return sources[k] ?? k;
    return undefined;
  };
}

export class ScreenAdapter implements Adapter<ScreenBinding> {
  readonly pool: BrowserPool | undefined;
  readonly session: SessionKeeper;
  readonly evidence: EvidenceStore;
  private readonly conn: ScreenConnection;
  private readonly unregisterMetrics: () => void;
  private startError: string | undefined;

  constructor(
    private readonly ctx: AdapterContext<ScreenConnection>,
    private readonly browser: BrowserFound,
    login: LoginFlow | undefined,
    evidenceDir: string,
  ) {
    this.conn = ctx.connection;
    const creds = this.conn.login ? { username: this.conn.login.username, password: this.conn.login.password } : undefined;
    this.session = new SessionKeeper(login, creds, this.conn.baseUrl, ctx.logger, this.conn.login?.retryRefusedAfterMs);
    this.evidence = new EvidenceStore(evidenceDir, this.conn.evidence.keep, ctx.logger);
    this.pool = browser.ok
      ? new BrowserPool({
          executablePath: browser.path,
          args: browserArgs(this.conn.browserArgs),
          nice: this.conn.browserNice,
          browserServer: this.conn.browserServer,
          // The pool is the machine's: a cluster's worker opens its share of the pages (pool-share.ts).
          size: pagesForThisProcess(this.conn.pool.size, ctx.env),
          queueLimit: this.conn.pool.queue,
          perOperation: this.conn.pool.perOperation,
          maxUsesPerPage: this.conn.pool.maxUsesPerPage,
          maxFlowsPerBrowser: this.conn.pool.maxFlowsPerBrowser,
          launchTimeoutMs: this.conn.timeouts.launchMs,
          actionTimeoutMs: this.conn.timeouts.actionMs,
          navigationTimeoutMs: this.conn.timeouts.navigationMs,
          probeTimeoutMs: this.conn.timeouts.probeMs,
          probeIntervalMs: this.conn.timeouts.probeIntervalMs,
          trace: this.conn.evidence.trace && this.conn.evidence.keep > 0,
          logger: ctx.logger,
          session: () => ({ state: this.session.state, version: this.session.version }),
        })
      : undefined;
    const pool = this.pool;
    this.unregisterMetrics = registerPoolMetrics(ctx.metrics.registry, ctx.name, () => ({
      ...(pool?.stats() ?? { launches: 0, crashes: 0, hungReplaced: 0, probesLate: 0, browsersRotated: 0, pagesCreated: 0, pagesRecycled: 0, pagesBusy: 0, pagesIdle: 0, waiting: 0 }),
      signOns: this.session.signOns,
    }));
  }

  async bind(ctx: BindContext<ScreenBinding>): Promise<OperationHandler> {
    const b = ctx.binding;
    let flow: AnyFlow;
    try {
      flow = (await loadModule(this.ctx.dir, b.flow, 'flow')) as AnyFlow;
    } catch (err) {
      return ctx.fail('flow', (err as Error).message, `name a file in ${this.ctx.file.replace(/adapter\.yaml$/, '')} whose default export is defineFlow({...})`);
    }
    const issues = checkTemplate(b.output as Template, flow.output);
    if (issues.length > 0) {
      const [key, problem, fix] = issues[0];
      ctx.fail(key, `${problem} (${b.flow})${issues.length > 1 ? ` and ${issues.length - 1} more` : ''}`, fix);
    }
    const failure: FailureContext = {
      adapter: this.ctx.name,
      operation: ctx.operation.operationId,
      credentialsHint: `connection.login of ${this.ctx.file}`,
    };
    return async (req: OperationRequest) => {
      annotateAttempt(req, () => ({ 'ficus.screen.flow': b.flow }));
      const { input, sources } = buildInput(req, b.input);
      const checked = checkInput(flow.input, input, sources, this.ctx.name);
      const raw = await this.runFlow(flow, checked, req, { ...failure, fieldOf: fieldsOf(checked, sources) }, !ctx.operation.safe);
      const out = flow.output.safeParse(raw);
      if (!out.success) {
        const what = out.error.issues.map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`).join('; ');
        throw new UpstreamError(`${this.ctx.name} (${failure.operation}): the flow ${b.flow} returned what it does not declare: ${what}`, { retryable: false, code: 'flow_output' });
      }
      try {
        return { status: b.status, body: applyTemplate(b.output as Template, out.data) };
      } catch (err) {
        throw toFailure(err, failure);
      }
    };
  }

  private runFlow(flow: AnyFlow, input: unknown, req: OperationRequest, failure: FailureContext, writes: boolean): Promise<unknown> {
    const pool = this.pool;
    if (!pool) {
      const reason = this.browser.ok ? 'no browser' : `${this.browser.reason}; ${this.browser.fix}`;
      return Promise.reject(new UpstreamError(`${this.ctx.name}: cannot drive the legacy screens: ${reason}`, { status: 503, retryable: false, code: 'no_browser' }));
    }
    return pool
      .use(
        req.signal,
        async (slot) => {
          let tracing = false;
          let abandoned: Promise<void> | undefined;
          const onAbort = () => {
            abandoned = this.abandon(slot, tracing, req, failure);
          };
          req.signal.addEventListener('abort', onAbort, { once: true });
          try {
            if (writes) await slot.page.route(ANY_URL, sendWritesOnce);
            if (this.pool && this.conn.evidence.trace && this.conn.evidence.keep > 0) {
              await slot.context.tracing.startChunk({ title: req.requestId });
              tracing = true;
            }
            const result = await this.withSession(slot, req.signal, (screen) => flow.run(screen, input), failure.fieldOf, req);
            if (tracing) {
              tracing = false;
              await slot.context.tracing.stopChunk();
            }
            return result;
          } catch (err) {
            if (req.signal.aborted) {
              await abandoned;
              throw err;
            }
            const problem = toFailure(err, failure);
            if (problem.status >= 500 && this.conn.evidence.keep > 0) {
              const files = await this.evidence.save(slot, tracing, { requestId: req.requestId, adapter: this.ctx.name, operation: failure.operation, error: problem.message }).catch(() => undefined);
              tracing = false;
              slot.broken = true;
              if (files && problem instanceof UpstreamError) problem.message += ` (evidence: ${files.note})`;
            } else if (tracing) {
              tracing = false;
              await slot.context.tracing.stopChunk().catch(() => {
                slot.broken = true;
              });
            }
            throw problem;
          } finally {
            if (writes) await slot.page.unroute(ANY_URL, sendWritesOnce).catch(() => undefined);
            req.signal.removeEventListener('abort', onAbort);
            if (tracing && !req.signal.aborted) slot.broken = true;
          }
        },
        failure.operation,
      )
      .catch((err: unknown) => {
        throw toFailure(err, failure);
      });
  }

  /** A flow cut off by the policy's timeout or the caller leaving: evidence, then the page is closed (and a hung browser replaced). */
  private async abandon(slot: Slot, tracing: boolean, req: OperationRequest, failure: FailureContext): Promise<void> {
    slot.broken = true;
    // A hung browser can give no evidence: replace it at once rather than wait on it.
    if (!(await this.pool?.probe())) return;
    if (this.conn.evidence.keep > 0) {
      const why = req.signal.reason instanceof Error ? req.signal.reason.message : 'cut off';
      await this.evidence.save(slot, tracing, { requestId: req.requestId, adapter: this.ctx.name, operation: failure.operation, error: `the flow was cut off: ${why}` }).catch(() => undefined);
    }
    await this.pool?.abandon(slot);
  }

  /** Runs a flow with a current session; if the legacy app shows its sign-on screen, signs on again and runs it once more. */
  private async withSession<T>(slot: Slot, signal: AbortSignal, run: (screen: Screen) => Promise<T>, fieldOf?: (value: string) => string | undefined, req?: OperationRequest): Promise<T> {
    const screen = new Screen(slot.page, {
      baseUrl: this.conn.baseUrl,
      signal,
      fieldOf,
      isLoginScreen: this.session.enabled ? (s) => this.session.isLoginScreen(s) : undefined,
    });
    const traced = () => req && annotateAttempt(req, () => ({ 'ficus.screen.steps': screen.steps, 'ficus.screen.screens': [...screen.screens] }));
    await this.session.prepare(slot, signal);
    const seen = slot.sessionVersion;
    try {
      return await run(screen);
    } catch (err) {
      if (!(err instanceof SessionExpired) || !this.session.enabled) throw err;
      if (req) annotateAttempt(req, () => ({ 'ficus.screen.session_renewed': true }));
      this.ctx.logger.info({ at: err.at }, 'the legacy session expired; signing on again');
      await this.session.renew(slot, seen, signal);
      return await run(screen);
    } finally {
      traced();
    }
  }

  async start(): Promise<void> {
    if (!this.pool) return;
    if (!this.conn.pool.warm) return;
    try {
      await this.pool.warm(this.conn.pool.size);
      if (this.session.enabled)
        await this.pool.use(AbortSignal.timeout(this.conn.timeouts.navigationMs * 2), (slot) => this.session.prepare(slot, AbortSignal.timeout(this.conn.timeouts.navigationMs * 2)));
      this.startError = undefined;
    } catch (err) {
      this.startError = err instanceof Error ? err.message.split('\n')[0] : String(err);
      this.ctx.logger.warn({ err: this.startError }, `screen adapter ${this.ctx.name}: warm-up failed; the first request will try again`);
    }
  }

  async health(): Promise<HealthReport> {
    if (!this.browser.ok) return { ok: false, detail: `no browser: ${this.browser.reason}; ${this.browser.fix}` };
    if (this.session.refusal !== undefined) return { ok: false, detail: `the legacy app refused the gateway's credentials: "${this.session.refusal}"` };
    const unreachable = await this.legacyUnreachable();
    if (unreachable !== undefined) return { ok: false, detail: `the legacy app cannot be reached: ${unreachable}` };
    const b = this.pool?.browser;
    if (!b) return { ok: false, detail: this.startError ? `browser not running: ${this.startError}` : 'browser not running yet' };
    const alive = await this.pool?.probe();
    if (!alive) return { ok: false, detail: 'the browser did not answer a probe' };
    return { ok: true, detail: `Chromium ${b.version} (pid ${b.pid ?? '?'})${this.startError ? `; warm-up: ${this.startError}` : ''}` };
  }

  /**
   * Why the legacy app does not answer a plain GET of its base URL within 2 s (any status under 500
   * is an answer), or undefined when it does: the browser being up says nothing about the backend.
   * A connection of its own (no keep-alive), so nothing is left open.
   */
  private legacyUnreachable(): Promise<string | undefined> {
    const url = new URL(this.conn.baseUrl);
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    return new Promise((resolve) => {
      const req = get(url, { agent: false, signal: AbortSignal.timeout(2_000) }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500 ? undefined : `${url.origin} answered ${res.statusCode}`);
      });
      req.on('error', (err: Error & { code?: string }) => resolve(`${url.origin}: ${err.name === 'AbortError' ? 'no answer within 2 s' : (err.code ?? err.message)}`));
    });
  }

  async close(): Promise<void> {
    this.unregisterMetrics();
    await this.pool?.close();
  }
}
