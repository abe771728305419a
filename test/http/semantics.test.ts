import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationResult } from '../../src/kinds/kind.ts';
import { FIXTURES } from '../helpers/gateway.ts';
import { startContractApp, type ContractApp } from './contract-app.ts';

const contract = `${FIXTURES}openapi-validation/semantics.yaml`;
let answer: OperationResult = { status: 200 };
let app: ContractApp;
let removing: ContractApp;
beforeAll(async () => {
  app = await startContractApp(contract, () => answer);
  removing = await startContractApp(contract, () => answer, { writeOnly: 'remove' });
});
afterAll(async () => {
  await app.close();
  await removing.close();
});

async function post(on: ContractApp, path: string, json: unknown) {
  const res = await request(`${on.url}${path}`, { method: 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown> & { errors?: { field: string; message: string }[] }) };
}

describe('readOnly and writeOnly', () => {
  it('refuses a readOnly property in a request (through $refs too), and does not require it there', async () => {
    answer = { status: 201, body: { id: 'u1', name: 'ann' } };
    expect((await post(app, '/users', { name: 'ann', password: 'secret-1' })).status).toBe(201);
    const sent = await post(app, '/users', { id: 'u9', name: 'ann', password: 'secret-1', audit: { createdAt: 'now' } });
    expect(sent.status).toBe(400);
    expect(sent.body?.errors).toEqual(
      expect.arrayContaining([
        { field: 'body.id', message: expect.stringMatching(/read-only/) },
        { field: 'body.audit.createdAt', message: expect.stringMatching(/read-only/) },
      ]),
    );
  });

  it('refuses a writeOnly property in a response by default, and does not require it there', async () => {
    answer = { status: 201, body: { id: 'u1', name: 'ann', password: 'secret-1' } };
    const leaked = await post(app, '/users', { name: 'ann', password: 'secret-1' });
    expect(leaked.status).toBe(502);
    expect(leaked.body?.errors?.[0]).toMatchObject({ field: 'response.password', message: expect.stringMatching(/write-only/) });
    answer = { status: 201, body: { id: 'u1', name: 'ann' } };
    expect((await post(app, '/users', { name: 'ann', password: 'secret-1' })).body).toEqual({ id: 'u1', name: 'ann' });
  });

  it('removes writeOnly properties from responses, nested ones too, with server.writeOnly: remove', async () => {
    answer = { status: 201, body: { id: 'u1', name: 'ann', password: 'secret-1', audit: { createdAt: 'now', secret: 's' } } };
    const r = await post(removing, '/users', { name: 'ann', password: 'secret-1' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: 'u1', name: 'ann', audit: { createdAt: 'now' } });
  });

  it('with server.writeOnly: remove, a cached read whose backend sends a writeOnly property is cached, and served without it', async () => {
    const cached = await startContractApp(contract, () => ({ status: 200, body: { id: 'u1', name: 'ann', password: 'secret-1' } }), { writeOnly: 'remove' }, { routes: { getUser: { ttl: '1h' } } });
    try {
      const get = async () => {
        const res = await request(`${cached.url}/users/u1`);
        return { status: res.statusCode, cache: res.headers['ficus-cache'], body: (await res.body.json()) as unknown };
      };
      expect(await get()).toEqual({ status: 200, cache: 'miss', body: { id: 'u1', name: 'ann' } });
      expect(await get()).toEqual({ status: 200, cache: 'hit', body: { id: 'u1', name: 'ann' } });
      expect(cached.received).toHaveLength(1);
    } finally {
      await cached.close();
    }
  });
});

describe('discriminator', () => {
  it('with a mapping: only mapped values, each checked against its own schema', async () => {
    answer = { status: 200 };
    expect((await post(app, '/pets', { kind: 'kitty', hunts: true })).status).toBe(200);
    expect((await post(app, '/pets', { kind: 'dog', barks: true })).status).toBe(200);
    // a dog with a cat's properties matches Cat under oneOf, but its kind says Dog
    // ... and the 400 names the field at fault, nothing else (no "must match then" at the body)
    expect((await post(app, '/pets', { kind: 'dog', hunts: true })).body?.errors?.map((e) => e.field)).toEqual(['body.barks']);
    expect((await post(app, '/pets', { kind: 'Cat', hunts: true })).body?.errors?.[0].field).toBe('body.kind');
  });

  it('without a mapping: the schema names', async () => {
    expect((await post(app, '/pets-implied', { kind: 'Cat', hunts: true })).status).toBe(200);
    expect((await post(app, '/pets-implied', { kind: 'cat', hunts: true })).body?.errors?.[0].field).toBe('body.kind');
  });

  it('on a parent: the allOf children by name, each checked as itself', async () => {
    expect((await post(app, '/animals', { species: 'Bird', wingspan: 1.2 })).status).toBe(200);
    expect((await post(app, '/animals', { species: 'Fish', fins: 4 })).status).toBe(200);
    expect((await post(app, '/animals', { species: 'Fish', wingspan: 1 })).body?.errors?.[0].field).toBe('body.fins');
    expect((await post(app, '/animals', { species: 'Cow' })).body?.errors?.[0].field).toBe('body.species');
  });
});
