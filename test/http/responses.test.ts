import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import type { OperationHandler, OperationResult } from '../../src/kinds/kind.ts';
import { httpKind } from '../../src/kinds/http/http-kind.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import type { SqlStore } from '../../src/state/sql-store.ts';
import { FIXTURES, startHttpServer } from '../helpers/gateway.ts';
import { startContractApp, type ContractApp } from './contract-app.ts';

const file = `${FIXTURES}openapi-validation/responses.yaml`;

async function call(on: ContractApp, method: string, path: string) {
  const res = await request(`${on.url}${path}`, { method: method as 'GET' });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), bytes, text: bytes.toString('utf8') };
}

describe('responses as the contract declares them (in-process backend)', () => {
  let answer: OperationResult = { status: 200 };
  let app: ContractApp;
  beforeAll(async () => {
    app = await startContractApp(file, () => answer);
  });
  afterAll(() => app.close());

  it('passes a bodiless 201 and 204 that sit beside a default error response', async () => {
    answer = { status: 201 };
    expect((await call(app, 'POST', '/things')).status).toBe(201);
    answer = { status: 204 };
    expect((await call(app, 'POST', '/things')).status).toBe(204);
    answer = { status: 201, body: { unexpected: true } };
    expect((await call(app, 'POST', '/things')).status).toBe(502);
    answer = { status: 409, body: { message: 'taken' } };
    expect((await call(app, 'POST', '/things')).status).toBe(409);
  });

  it('finds a response declared as application/json; charset=utf-8 and checks its schema', async () => {
    answer = { status: 200, body: ['a', 'b'] };
    expect(JSON.parse((await call(app, 'GET', '/things')).text)).toEqual(['a', 'b']);
    answer = { status: 200, body: [1] };
    expect((await call(app, 'GET', '/things')).status).toBe(502);
  });

  it('passes a declared media type without a schema, and refuses one not declared', async () => {
    answer = { status: 200, body: Buffer.from('a,b\n1,2\n'), headers: { 'content-type': 'text/csv' } };
    const csv = await call(app, 'GET', '/things');
    expect(csv.status).toBe(200);
    expect(csv.type).toBe('text/csv');
    expect(csv.text).toBe('a,b\n1,2\n');
    answer = { status: 200, body: '<p>x</p>', headers: { 'content-type': 'text/html' } };
    const html = await call(app, 'GET', '/things');
    expect(html.status).toBe(502);
    expect(html.text).toMatch(/text\/html is not a media type of status 200/);
  });

  it('passes a declared image on as its exact bytes, and checks declared text against its schema', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    answer = { status: 200, body: png, headers: { 'content-type': 'image/png' } };
    const r = await call(app, 'GET', '/things/1/picture');
    expect(r.status).toBe(200);
    expect(r.type).toBe('image/png');
    expect(Buffer.compare(r.bytes, png)).toBe(0);
    answer = { status: 200, body: Buffer.from('short'), headers: { 'content-type': 'text/plain' } };
    expect((await call(app, 'GET', '/things/1/note')).text).toBe('short');
    answer = { status: 200, body: Buffer.from('far too long for it'), headers: { 'content-type': 'text/plain' } };
    expect((await call(app, 'GET', '/things/1/note')).status).toBe(502);
  });
});

describe('an http backend behind the contract', () => {
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let app: ContractApp;
  let close: () => Promise<void>;
  const asked: string[] = [];
  beforeAll(async () => {
    upstream = await startHttpServer((req, res) => {
      asked.push(req.url ?? '');
      if (req.url === '/things') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"reason":"none yet"}');
      } else if (req.url === '/things/1/picture') {
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      } else if (req.url === '/things/2/picture') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no picture"}');
      } else res.writeHead(500).end();
    });
    const contract = Contract.load(file);
    const adapter = await httpKind.create({
      name: 'modern',
      dir: FIXTURES,
      file: 'adapters/modern/adapter.yaml',
      connection: httpKind.connectionSchema.parse({ baseUrl: upstream.url }),
      logger: createLogger({ level: 'silent' }),
      metrics: new GatewayMetrics({ defaultMetrics: false }),
      contract,
      root: FIXTURES,
      store: undefined as unknown as SqlStore,
      env: {},
    });
    const handlers = new Map<string, OperationHandler>();
    for (const op of contract.all()) {
      const fail = (key: string, problem: string): never => {
        throw new Error(`${key}: ${problem}`);
      };
      handlers.set(op.operationId, await adapter.bind({ operation: op, binding: httpKind.bindingSchema.parse({}), key: `operations.${op.operationId}`, fail }));
    }
    app = await startContractApp(file, (req) => (handlers.get(req.operationId) as OperationHandler)(req));
    close = async () => {
      await app.close();
      await adapter.close();
      await upstream.close();
    };
  });
  afterAll(() => close());

  it('passes on a 4xx whose body the contract declares, as the backend gave it', async () => {
    const r = await call(app, 'GET', '/things');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toEqual({ reason: 'none yet' });
  });

  it('answers problem+json for a 4xx the contract declares as problem+json', async () => {
    const r = await call(app, 'GET', '/things/2/picture');
    expect(r.status).toBe(404);
    expect(r.type).toMatch(/application\/problem\+json/);
    expect(JSON.parse(r.text)).toMatchObject({ type: 'https://ficus.dev/problems/not-found', detail: 'no picture' });
  });

  it('sends a path parameter as one segment of the backend path, even `..` or one with a slash', async () => {
    asked.length = 0;
    // (Sent as written: a URL parser on the caller's side would already take `%2E%2E` for `..`.)
    const agent = new Agent();
    for (const path of ['/things/%2E%2E/picture', '/things/a%2Fb%3Fc/picture']) await (await agent.request({ origin: app.url, path, method: 'GET' })).body.dump();
    await agent.close();
    expect(asked).toEqual(['/things/%2E%2E/picture', '/things/a%2Fb%3Fc/picture']);
  });

  it('passes an image answer on as bytes', async () => {
    const r = await call(app, 'GET', '/things/1/picture');
    expect(r.status).toBe(200);
    expect(r.type).toBe('image/png');
    expect([...r.bytes]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });
});
