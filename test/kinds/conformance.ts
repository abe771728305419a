/**
 * The conformance suite every kind runs (like Hono's router suite: one shared set of cases, one
 * short test file per kind). A kind's file calls `kindConformance(setup)` with how to make an
 * adapter of that kind against the shared contract (test/fixtures/kind-conformance/openapi.yaml)
 * and its backends; the suite then checks what the gateway relies on from every kind:
 *
 * - a binding mistake comes back through `ctx.fail(subKey, …)` naming the key;
 * - nothing connects before `start` (`create` and `bind` open no connection);
 * - `health()` never rejects and reports down within 3 s, against a closed port and a blackhole;
 * - a found thing answers 200 in the contract's shape, a missing one a 404 problem, the list its page;
 * - a backend that is down is a 503, retryable; refused credentials are 502 `upstream-credentials`,
 *   not retryable (the same in every kind);
 * - an aborted call settles quickly and frees its slot (the next call on a pool of one succeeds,
 *   with its own answer);
 * - writes are not retried;
 * - `close()` is idempotent and leaves no connection open.
 *
 * A case a kind cannot run is skipped with the reason its setup gives (`skip`, `supports`).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { loadKind } from '../../src/kinds/registry.ts';
import type { Adapter, AdapterContext, OperationHandler, OperationRequest, OperationResult, RegisteredKind } from '../../src/kinds/kind.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { PROBLEMS, Problem, UpstreamError } from '../../src/problem.ts';
import { BindingPolicy } from '../../src/resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy, type PolicyOverrides } from '../../src/resilience/policy-config.ts';
import { openStore, type SqlStore } from '../../src/state/sql-store.ts';

export const CONFORMANCE_CONTRACT = fileURLToPath(new URL('../fixtures/kind-conformance/openapi.yaml', import.meta.url));

/** The data every live backend serves, in id order. */
export const THINGS = [
  { id: 1, name: 'one' },
  { id: 2, name: 'two' },
  { id: 3, name: 'three' },
] as const;
/** An id no backend has. */
export const MISSING_ID = 999;

export type ConformanceOperation = 'getThing' | 'listThings' | 'createThing';
export type ConformanceCase =
  | 'binding mistake'
  | 'nothing connects before start'
  | 'health against a closed port'
  | 'health against a blackhole'
  | 'answers'
  | 'backend down'
  | 'credentials refused'
  | 'aborted call'
  | 'writes not retried'
  | 'close';

/** One adapter as its adapter.yaml would give it. */
export interface AdapterPlan {
  /** `connection:` after `${env:…}` interpolation, before the kind's schema. */
  connection: Record<string, unknown>;
  /** The bindings of the operations the kind supports, before the kind's schema. */
  bindings: Partial<Record<ConformanceOperation, unknown>>;
  /** The adapter's folder (its assets: SQL files, layouts, flows). */
  dir: string;
  /** The project root (default: `dir`). */
  root?: string;
  env?: Record<string, string>;
}

export interface KindConformanceSetup {
  /** The kind's name in the registry. */
  kind: string;
  /** The title of this run (a kind run several ways, e.g. one per database driver). */
  title?: string;
  /** Starts the live backend(s) (in beforeAll); `after` stops them. */
  before?(): Promise<void>;
  after?(): Promise<void>;
  /** An adapter pointing at the live backend serving THINGS. */
  live(): AdapterPlan | Promise<AdapterPlan>;
  /**
   * An adapter pointing at whatever listens on 127.0.0.1:`port` (a counting listener, a closed
   * port, a blackhole, a proxy to the live backend at `livePort()`), with its own pool holding one
   * connection. Leave out for a kind with no network, and say why in `skip`.
   */
  at?(port: number): AdapterPlan | Promise<AdapterPlan>;
  /** The live backend's TCP port (for a proxy in front of it). */
  livePort?(): number;
  /** An adapter whose backend refuses the gateway's credentials. */
  refusingCredentials?(): AdapterPlan | Promise<AdapterPlan>;
  /** An adapter against a backend that is down, when `at(closed port)` cannot say it (no network). */
  down?(): AdapterPlan | Promise<AdapterPlan>;
  /** A binding that passes the kind's schema but that `bind` must refuse, and the sub-key it names. */
  badBinding: { operation: ConformanceOperation; binding: unknown; subKey: string };
  /** Which operations the kind serves: true, or why not. */
  supports: Record<ConformanceOperation, true | string>;
  /** Cases the kind cannot run, and why. */
  skip?: Partial<Record<ConformanceCase, string>>;
  /**
   * An adapter against a backend that serves everything but fails every write once the write has
   * reached it, and counts the writes it received; for a kind whose calls do more than the write
   * (a sign-on first). Default: a listener that resets each connection once the client sent something.
   */
  failingWrites?(): Promise<{ plan: AdapterPlan; writes(): number }>;
  /** Policy overrides for the calls (over the kind's defaults). */
  policy?: PolicyOverrides;
  /**
   * The operation the `aborted call` case calls (default getThing): one whose every call reaches the
   * backend, for a kind that answers reads after the first from a local copy.
   */
  abortedCallVia?: 'getThing' | 'createThing';
}

/** A loopback listener that counts the connections it accepted and those still open. */
export interface CountingListener {
  port: number;
  accepted: number;
  open: number;
  close(): Promise<void>;
}

/** Accepts connections and never answers a byte (a blackholed backend), counting them. */
export async function blackhole(): Promise<CountingListener> {
  const sockets = new Set<Socket>();
  const state = { port: 0, accepted: 0, open: 0, close: async () => undefined as void };
  const server = createServer((s) => {
    state.accepted++;
    state.open++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => {
      state.open--;
      sockets.delete(s);
    });
  });
  await listen(server);
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

/** Accepts connections and resets each once the client has sent something (the request was sent), counting those. */
async function resetting(): Promise<CountingListener> {
  const state = { port: 0, accepted: 0, open: 0, close: async () => undefined as void };
  const server = createServer((s) => {
    s.on('error', () => undefined);
    // Counted when a request arrives: a browser's speculative connections that send nothing are not calls.
    s.once('data', () => {
      state.accepted++;
      s.resetAndDestroy();
    });
  });
  await listen(server);
  state.port = (server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

/**
 * A TCP proxy to the live backend that can stall: while stalled, what clients send is held (the
 * backend never sees it), as a backend that stopped answering mid-call. Counts open client connections.
 */
interface StallingProxy extends CountingListener {
  /** Bytes held back while stalled. */
  held: number;
  stall(): void;
  flow(): void;
}

async function stallingProxy(targetPort: number): Promise<StallingProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; queue: Buffer[] }>();
  let stalled = false;
  const state: StallingProxy = {
    port: 0,
    accepted: 0,
    open: 0,
    held: 0,
    stall: () => {
      stalled = true;
    },
    flow: () => {
      stalled = false;
      state.held = 0;
      for (const p of pairs) for (const chunk of p.queue.splice(0)) p.upstream.write(chunk);
    },
    close: async () => undefined,
  };
  const server = createServer((client) => {
    state.accepted++;
    state.open++;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, queue: [] as Buffer[] };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (stalled) {
        pair.queue.push(chunk);
        state.held += chunk.length;
      } else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => {
      state.open--;
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  await listen(server);
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

/** What the caller would get for an error a handler threw. */
function problemOf(err: unknown): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof UpstreamError) return err.toProblem();
  throw new Error(`expected a Problem or an UpstreamError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
}

function retryableOf(err: unknown): boolean {
  if (err instanceof UpstreamError) return err.retryable;
  return err instanceof Problem && (err.status === 503 || err.status === 504);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it answered');
}

const REQUESTS: Record<ConformanceOperation, (arg?: number | string) => Omit<OperationRequest, 'signal' | 'requestId'>> = {
  getThing: (id = 1) => ({ operationId: 'getThing', method: 'get', pathParams: { thingId: id }, query: {}, headers: {}, body: undefined }),
  listThings: () => ({ operationId: 'listThings', method: 'get', pathParams: {}, query: { limit: 20 }, headers: {}, body: undefined }),
  createThing: (name = 'four') => ({ operationId: 'createThing', method: 'post', pathParams: {}, query: {}, headers: { 'content-type': 'application/json' }, body: { name } }),
};

let requestIds = 0;
function request(op: ConformanceOperation, signal: AbortSignal, arg?: number | string): OperationRequest {
  const requestId = `conformance-${++requestIds}`;
  const req = { ...REQUESTS[op](arg), requestId, signal };
  // A write carries its own Idempotency-Key, as a caller of the gateway sends it (kinds that write
  // through files derive the legacy request's id from it).
  if (op === 'createThing') req.headers = { ...req.headers, 'idempotency-key': requestId };
  return req;
}

/** Runs the conformance suite for one kind (call it at the top level of the kind's test file). */
export function kindConformance(setup: KindConformanceSetup): void {
  const contract = Contract.load(CONFORMANCE_CONTRACT);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const shape = (op: ConformanceOperation, status: number) => ajv.compile(contract.derefDeep(contract.responseSchema(op, status)) as object);
  const supported = (Object.keys(setup.supports) as ConformanceOperation[]).filter((op) => setup.supports[op] === true);

  let kind: RegisteredKind;
  let store: SqlStore;
  const made: Adapter<unknown>[] = [];
  const listeners: CountingListener[] = [];

  beforeAll(async () => {
    kind = (await loadKind(setup.kind))!;
    expect(kind, `kind ${setup.kind} is registered`).toBeDefined();
    store = await openStore({ driver: 'sqlite', file: ':memory:' });
    await setup.before?.();
  });
  afterAll(async () => {
    await Promise.allSettled(made.map((a) => a.close()));
    await Promise.allSettled(listeners.map((l) => l.close()));
    await setup.after?.();
    await store?.close();
  });

  async function create(plan: AdapterPlan): Promise<Adapter<unknown>> {
    const ctx: AdapterContext<unknown> = {
      name: `conformance-${setup.kind}`,
      dir: plan.dir,
      file: 'adapters/conformance/adapter.yaml',
      connection: kind.connectionSchema.parse(plan.connection),
      logger: createLogger({ level: 'silent' }),
      metrics: new GatewayMetrics({ defaultMetrics: false }),
      contract,
      root: plan.root ?? plan.dir,
      store,
      env: plan.env ?? {},
    };
    const adapter = await kind.create(ctx);
    made.push(adapter);
    return adapter;
  }

  async function bindAll(adapter: Adapter<unknown>, plan: AdapterPlan): Promise<Map<ConformanceOperation, OperationHandler>> {
    const handlers = new Map<ConformanceOperation, OperationHandler>();
    for (const op of supported) {
      const binding = kind.bindingSchema.parse(plan.bindings[op]);
      const fail = (subKey: string, problem: string): never => {
        throw new Error(`operations.${op}.${subKey}: ${problem}`);
      };
      handlers.set(op, await adapter.bind({ operation: contract.operation(op), binding, key: `operations.${op}`, fail }));
    }
    return handlers;
  }

  async function adapterFor(plan: AdapterPlan, start = true) {
    const adapter = await create(plan);
    const handlers = await bindAll(adapter, plan);
    if (start) await adapter.start?.();
    return { adapter, handlers, handler: (op: ConformanceOperation) => handlers.get(op)! };
  }

  function policyFor(op: ConformanceOperation, overrides?: PolicyOverrides): BindingPolicy {
    const config = mergePolicy(BASE_POLICY, kind.defaultPolicy, setup.policy, overrides);
    const operation = contract.operation(op);
    return new BindingPolicy(config, { adapter: 'conformance', operation: op, retryable: operation.safe || config.retry.unsafe, metrics: new GatewayMetrics({ defaultMetrics: false }) });
  }

  async function track<T extends CountingListener>(l: Promise<T>): Promise<T> {
    const listener = await l;
    listeners.push(listener);
    return listener;
  }

  const skip = (c: ConformanceCase, needs: boolean, why: string) => {
    const reason = setup.skip?.[c] ?? (needs ? undefined : why);
    return reason;
  };
  /** `it`, or `it.skip` with the reason in the title. */
  const test = (c: ConformanceCase, title: string, reason: string | undefined, fn: () => Promise<void>, timeout = 90_000) => {
    if (reason) it.skip(`${c}: ${title} (skipped: ${reason})`, fn);
    else it(`${c}: ${title}`, fn, timeout);
  };

  describe(`kind conformance: ${setup.title ?? setup.kind}`, () => {
    test('binding mistake', `bind reports it through ctx.fail naming ${setup.badBinding.operation}.${setup.badBinding.subKey}`, setup.skip?.['binding mistake'], async () => {
      const plan = await setup.live();
      const adapter = await create(plan);
      const { operation, binding, subKey } = setup.badBinding;
      const parsed = kind.bindingSchema.safeParse(binding);
      expect(parsed.success, 'the bad binding passes the kind schema (the mistake is one only bind can see)').toBe(true);
      const failed: { subKey: string; problem: string; fix: string }[] = [];
      const marker = new Error('ctx.fail called');
      const err = await rejection(
        Promise.resolve().then(() =>
          adapter.bind({
            operation: contract.operation(operation),
            binding: parsed.data,
            key: `operations.${operation}`,
            fail: (sub, problem, fix) => {
              failed.push({ subKey: sub, problem, fix });
              throw marker;
            },
          }),
        ),
      );
      expect(err).toBe(marker);
      expect(failed).toHaveLength(1);
      expect(failed[0].subKey).toBe(subKey);
      expect(failed[0].problem).not.toBe('');
      expect(failed[0].fix).not.toBe('');
      await adapter.close();
    });

    test('nothing connects before start', 'create and bind open no connection; health does', skip('nothing connects before start', !!setup.at, 'the kind has no network'), async () => {
      const listener = await track(blackhole());
      const plan = await setup.at!(listener.port);
      const adapter = await create(plan);
      await bindAll(adapter, plan);
      // Let anything the kind started in the background reach the listener.
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
      expect(listener.accepted).toBe(0);
      expect(await adapter.health()).toMatchObject({ ok: false });
      expect(listener.accepted).toBeGreaterThan(0);
      await adapter.close();
    });

    const healthDown = (c: ConformanceCase, what: string, target: () => Promise<number>) =>
      test(c, `health() resolves with ok: false within 3 s against ${what}, and never rejects`, skip(c, !!setup.at, 'the kind has no network'), async () => {
        const plan = await setup.at!(await target());
        const { adapter } = await adapterFor(plan, false);
        await adapter.start?.().catch(() => undefined);
        for (let i = 0; i < 2; i++) {
          const started = performance.now();
          const report = await adapter.health();
          const ms = performance.now() - started;
          expect(report.ok).toBe(false);
          expect(typeof report.detail).toBe('string');
          // /readyz gives each adapter 3 s; 1 s more for a loaded machine.
          expect(ms).toBeLessThan(4_000);
        }
        await adapter.close();
      });
    healthDown('health against a closed port', 'a closed port', () => closedPort());
    healthDown('health against a blackhole', 'a listener that accepts and never answers', async () => (await track(blackhole())).port);

    if (!setup.at && setup.down) {
      test('health against a closed port', 'health() resolves with ok: false against a backend that is down', setup.skip?.['backend down'], async () => {
        const { adapter } = await adapterFor(await setup.down!(), false);
        await adapter.start?.().catch(() => undefined);
        expect(await adapter.health()).toMatchObject({ ok: false });
        await adapter.close();
      });
    }

    describe('against the live backend', () => {
      let live: Awaited<ReturnType<typeof adapterFor>>;
      beforeAll(async () => {
        live = await adapterFor(await setup.live());
      });

      test('answers', 'health is ok', setup.skip?.answers, async () => {
        expect(await live.adapter.health()).toMatchObject({ ok: true });
      });

      test('answers', 'a found thing is 200 in the contract shape', skip('answers', setup.supports.getThing === true, String(setup.supports.getThing)), async () => {
        const valid = shape('getThing', 200);
        for (const thing of THINGS) {
          const res = await live.handler('getThing')(request('getThing', new AbortController().signal, thing.id));
          expect(res.status).toBe(200);
          expect(valid(res.body), JSON.stringify(valid.errors)).toBe(true);
          expect(res.body).toEqual(thing);
        }
      });

      test('answers', 'a missing thing is a 404 problem', skip('answers', setup.supports.getThing === true, String(setup.supports.getThing)), async () => {
        const err = await rejection(live.handler('getThing')(request('getThing', new AbortController().signal, MISSING_ID)));
        expect(err).toBeInstanceOf(Problem);
        expect((err as Problem).status).toBe(404);
        expect((err as Problem).typeName).toBe(PROBLEMS.notFound.type);
      });

      test('answers', 'the list is 200 with every thing, by id', skip('answers', setup.supports.listThings === true, String(setup.supports.listThings)), async () => {
        const res = await live.handler('listThings')(request('listThings', new AbortController().signal));
        expect(res.status).toBe(200);
        const valid = shape('listThings', 200);
        expect(valid(res.body), JSON.stringify(valid.errors)).toBe(true);
        expect(res.body).toEqual({ items: THINGS, nextCursor: null });
      });

      test('answers', 'a created thing is 201 in the contract shape', skip('answers', setup.supports.createThing === true, String(setup.supports.createThing)), async () => {
        const res = await live.handler('createThing')(request('createThing', new AbortController().signal, 'four'));
        expect(res.status).toBe(201);
        const valid = shape('createThing', 201);
        expect(valid(res.body), JSON.stringify(valid.errors)).toBe(true);
        expect(res.body).toMatchObject({ name: 'four' });
      });

      test('close', 'close() twice resolves both times', setup.skip?.close, async () => {
        const { adapter, handler } = await adapterFor(await setup.live());
        const op = supported[0];
        await handler(op)(request(op, new AbortController().signal));
        await adapter.close();
        await adapter.close();
      });
    });

    const firstRead: ConformanceOperation = setup.supports.getThing === true ? 'getThing' : 'listThings';

    test('backend down', 'a call is a 503, retryable', skip('backend down', !!setup.at || !!setup.down, 'no way to point the kind at a backend that is down'), async () => {
      const plan = setup.at ? await setup.at(await closedPort()) : await setup.down!();
      const { adapter, handler } = await adapterFor(plan, false);
      await adapter.start?.().catch(() => undefined);
      const err = await rejection(handler(firstRead)(request(firstRead, AbortSignal.timeout(30_000))));
      const problem = problemOf(err);
      expect(problem.status, problem.detail).toBe(503);
      expect(problem.typeName).toBe(PROBLEMS.upstreamUnavailable.type);
      expect(retryableOf(err)).toBe(true);
      await adapter.close();
    });

    test('credentials refused', 'a call is a 502 upstream-credentials, not retried', skip('credentials refused', !!setup.refusingCredentials, 'the kind has no credentials'), async () => {
      const { adapter, handler } = await adapterFor(await setup.refusingCredentials!(), false);
      await adapter.start?.().catch(() => undefined);
      const err = await rejection(handler(firstRead)(request(firstRead, AbortSignal.timeout(30_000))));
      const problem = problemOf(err);
      expect(problem.status, problem.detail).toBe(502);
      expect(problem.typeName).toBe(PROBLEMS.upstreamCredentials.type);
      expect(retryableOf(err)).toBe(false);
      const viaPolicy = await rejection(policyFor(firstRead).execute((signal) => handler(firstRead)(request(firstRead, signal)), new AbortController().signal));
      expect(viaPolicy).toBeInstanceOf(Problem);
      expect((viaPolicy as Problem).typeName).toBe(PROBLEMS.upstreamCredentials.type);
      // A write meets the same refusal with the same answer (not a 503 a queue would retry).
      if (setup.supports.createThing === true) {
        const write = problemOf(await rejection(handler('createThing')(request('createThing', AbortSignal.timeout(30_000), 'refused'))));
        expect(write.status, write.detail).toBe(502);
        expect(write.typeName).toBe(PROBLEMS.upstreamCredentials.type);
      }
      await adapter.close();
    });

    const via = setup.abortedCallVia ?? 'getThing';
    test(
      'aborted call',
      'settles quickly and frees its slot: the next call on a pool of one gets its own answer',
      skip('aborted call', !!setup.at && !!setup.livePort && setup.supports[via] === true, `needs at(), livePort() and ${via}`),
      async () => {
        const proxy = await track(stallingProxy(setup.livePort!()));
        const { adapter, handler } = await adapterFor(await setup.at!(proxy.port));
        // One call at a time, none waiting: a slot that is not freed refuses the next call.
        const policy = policyFor(via, { concurrency: { limit: 1, queue: 0 }, retry: { maxRetries: 0 }, timeoutMs: 40_000 });
        const call = (n: number, signal: AbortSignal) => policy.execute((s) => handler(via)(request(via, s, via === 'getThing' ? n : `aborted-${n}`)), signal);
        const answered = (res: OperationResult, n: number) => {
          if (via === 'getThing') expect(res.body).toEqual(THINGS[n - 1]);
          else {
            expect(res.status).toBe(201);
            expect(shape('createThing', 201)(res.body)).toBe(true);
          }
        };
        answered(await call(1, new AbortController().signal), 1);

        proxy.stall();
        const caller = new AbortController();
        const pending = rejection(call(2, caller.signal));
        await vi.waitFor(() => expect(proxy.held).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
        const aborted = performance.now();
        caller.abort(new Error('the caller went away'));
        const err = await pending;
        expect(performance.now() - aborted).toBeLessThan(2_000);
        expect(err).toBeInstanceOf(Problem);
        proxy.flow();

        answered(await call(3, AbortSignal.timeout(40_000)), 3);
        await adapter.close();
      },
      120_000,
    );

    test(
      'writes not retried',
      'a write against a failing backend is sent once; a read is retried',
      skip('writes not retried', !!setup.at && setup.supports.createThing === true, 'needs at() and createThing'),
      async () => {
        const listener = await track(resetting());
        const { adapter, handler } = await adapterFor(await setup.at!(listener.port));
        const overrides: PolicyOverrides = { retry: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5, budget: { ratio: 1, minPerSecond: 100 } }, circuitBreaker: { enabled: false } };
        const write = policyFor('createThing', overrides);
        if (setup.failingWrites) {
          const failing = await setup.failingWrites();
          const writer = await adapterFor(failing.plan);
          expect(await rejection(write.execute((s) => writer.handler('createThing')(request('createThing', s, 'five')), new AbortController().signal))).toBeInstanceOf(Problem);
          expect(failing.writes()).toBe(1);
          await writer.adapter.close();
        } else {
          expect(await rejection(write.execute((s) => handler('createThing')(request('createThing', s, 'five')), new AbortController().signal))).toBeInstanceOf(Problem);
          expect(listener.accepted).toBe(1);
        }

        const read = policyFor(firstRead, overrides);
        const before = listener.accepted;
        expect(await rejection(read.execute((s) => handler(firstRead)(request(firstRead, s)), new AbortController().signal))).toBeInstanceOf(Problem);
        // Retried (the same listener counts retries); a kind may open more than one connection an attempt.
        expect(listener.accepted - before).toBeGreaterThanOrEqual(3);
        await adapter.close();
      },
    );

    test('close', 'close() leaves no connection open', skip('close', !!setup.at && !!setup.livePort, 'needs at() and livePort()'), async () => {
      const proxy = await track(stallingProxy(setup.livePort!()));
      const { adapter, handler } = await adapterFor(await setup.at!(proxy.port));
      const op = supported[0];
      await handler(op)(request(op, new AbortController().signal));
      expect(await adapter.health()).toMatchObject({ ok: true });
      expect(proxy.open).toBeGreaterThan(0);
      await adapter.close();
      await vi.waitFor(() => expect(proxy.open).toBe(0), { timeout: 10_000, interval: 20 });
      await adapter.close();
    });
  });
}
