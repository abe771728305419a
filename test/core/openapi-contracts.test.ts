/**
 * Contracts as users bring them, through a running gateway: a multi-file 3.1 document (path items
 * by $ref from another file and from components.pathItems, a recursive schema, an operation without
 * operationId bound as `METHOD /path`), path templates with several parameters in a segment, and
 * start-up errors that name the file, JSON pointer and line of a mistake in the document.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigReport } from '../../src/config/load-config.ts';
import { FIXTURES, json, startGateway, startHttpServer, type StartedGateway } from '../helpers/gateway.ts';

const ROOTS = join(FIXTURES, 'openapi-gateway');

interface Seen {
  method: string;
  url: string;
  body: string;
}

describe('a multi-file 3.1 contract', () => {
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let gw: StartedGateway;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = await startHttpServer((req, res, body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      if (req.url?.startsWith('/streams/')) json(res, 200, { id: Number(req.url.split('/')[2]), title: 'a stream' });
      else json(res, 201, JSON.parse(body) as unknown);
    });
    gw = await startGateway(join(ROOTS, 'multi-file'), { UPSTREAM_URL: upstream.url });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('serves a path item from another file, bound as "GET /path", with its parameters checked', async () => {
    const ok = await fetch(`${gw.url}/streams/7`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: 7, title: 'a stream' });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/streams/7' });
    const bad = await fetch(`${gw.url}/streams/0`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['path.id']);
  });

  it('announces the operationId it derived at start-up', () => {
    const notice = gw.logLines.find((l) => String(l.msg).includes('GET /streams/{id} has no operationId'));
    expect(notice).toMatchObject({ level: 40 }); // warn
    expect(String(notice?.msg)).toContain('"getStreamsById"');
  });

  it('validates a recursive body (a path item from components.pathItems) at any depth', async () => {
    let tree: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < 30; i++) tree = { name: `folder${i}`, children: [tree] };
    const ok = await fetch(`${gw.url}/folders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tree) });
    expect(ok.status).toBe(201);
    const bad = await fetch(`${gw.url}/folders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'root', children: [{ name: 'a', children: [{ name: 5 }] }] }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['body.children[0].children[0].name']);
  });

  it('validates a body whose schema is in another file, with a $ref from there into a third', async () => {
    const ok = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hi', author: 'me' }) });
    expect(ok.status).toBe(201);
    const bad = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hi', author: 3 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['body.author']);
  });
});

describe('a contract whose discriminator mappings name other files', () => {
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let gw: StartedGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    upstream = await startHttpServer((req, res, body) => {
      seen.push(body);
      res.writeHead(201).end();
    });
    gw = await startGateway(join(ROOTS, 'discriminator-files'), { UPSTREAM_URL: upstream.url });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  async function post(path: string, body: unknown): Promise<{ status: number; fields: string[] }> {
    const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, fields: res.status === 400 ? ((JSON.parse(text) as { errors: { field: string }[] }).errors ?? []).map((e) => e.field) : [] };
  }

  it('accepts a valid body for each mapped value and passes it on', async () => {
    expect(await post('/menu', { category: 'beverage', volume: 330 })).toEqual({ status: 201, fields: [] });
    expect(JSON.parse(seen.at(-1) ?? '')).toEqual({ category: 'beverage', volume: 330 });
    expect((await post('/menu', { category: 'dessert', calories: 250 })).status).toBe(201);
    expect((await post('/pets', { petType: 'dog', name: 'rex', barks: true })).status).toBe(201);
    expect((await post('/pets', { petType: 'cat', name: 'tom', hunts: false })).status).toBe(201);
  });

  it('refuses a discriminator value the mapping does not name with 400 naming the field', async () => {
    const before = seen.length;
    expect(await post('/menu', { category: 'soup', volume: 330 })).toEqual({ status: 400, fields: ['body.category'] });
    expect(await post('/pets', { petType: 'horse', name: 'ed' })).toEqual({ status: 400, fields: ['body.petType'] });
    expect(seen.length).toBe(before);
  });

  it('checks the body against the schema its value maps to (in another file)', async () => {
    expect(await post('/menu', { category: 'dessert', volume: 330 })).toEqual({ status: 400, fields: ['body.calories'] });
    expect(await post('/pets', { petType: 'cat', name: 'tom', barks: true })).toEqual({ status: 400, fields: ['body.hunts'] });
  });
});

describe('path templates through the gateway', () => {
  let upstream: Awaited<ReturnType<typeof startHttpServer>>;
  let gw: StartedGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    upstream = await startHttpServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(req.method === 'DELETE' ? 204 : 200).end();
    });
    gw = await startGateway(join(ROOTS, 'templates'), { UPSTREAM_URL: upstream.url });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('routes several parameters in one segment and passes each value on', async () => {
    expect((await fetch(`${gw.url}/files/report.csv`)).status).toBe(200);
    expect(seen.at(-1)).toBe('GET /files/report.csv');
    expect((await fetch(`${gw.url}/reports/2024-05`)).status).toBe(200);
    expect(seen.at(-1)).toBe('GET /reports/2024-5');
    expect((await fetch(`${gw.url}/user_lookup:carmine`)).status).toBe(200);
    expect(seen.at(-1)).toBe('GET /user_lookup:carmine');
  });

  it('checks each parameter of a shared segment against its own schema', async () => {
    const bad = await fetch(`${gw.url}/reports/2024-may`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['path.month']);
  });

  it('decodes a parameter once and passes it on encoded once', async () => {
    expect((await fetch(`${gw.url}/files/a%2Fb%2520c`)).status).toBe(200);
    expect(seen.at(-1)).toBe('GET /files/a%2Fb%2520c');
  });

  it('serves a trailing slash as the path without it', async () => {
    expect((await fetch(`${gw.url}/items/`)).status).toBe(200);
    expect(seen.at(-1)).toBe('GET /items');
  });
});

describe('a contract with mistakes stops start-up', () => {
  it('names the file, JSON pointer and line of each, and the version of the rules (3.0, not 3.1)', async () => {
    const report = await loadConfigReport({ root: join(ROOTS, 'multi-file'), file: join(ROOTS, 'bad-3.0.yaml'), env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
    expect(report.config).toBeUndefined();
    expect(report.errors).toHaveLength(1);
    const e = report.errors[0];
    expect(e.file).toMatch(/test\/fixtures\/openapi\/invalid-document\.yaml$/);
    expect(e.key).toBe('#/paths/~1pets/get/parameters/0/in');
    expect(e.line).toBe(9);
    expect(e.message).toContain('OpenAPI 3.0');
    expect(e.message).not.toContain('3.1');
  });

  it('places a mistake in the other file of a multi-file contract', async () => {
    const report = await loadConfigReport({ root: join(ROOTS, 'multi-file'), file: join(ROOTS, 'bad-multi.yaml'), env: { UPSTREAM_URL: 'http://127.0.0.1:9' } });
    expect(report.errors.map((e) => [e.file.replace(/.*test\/fixtures\//, ''), e.key, e.line])).toEqual([['openapi/invalid-multi/paths/pets.yaml', '#/get/summary', 9]]);
  });
});
