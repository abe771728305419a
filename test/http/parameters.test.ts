import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/gateway.ts';
import { startContractApp, type ContractApp } from './contract-app.ts';

let app: ContractApp;
beforeAll(async () => {
  app = await startContractApp(`${FIXTURES}openapi-validation/parameters.yaml`, () => ({ status: 200 }));
});
afterAll(() => app.close());

async function get(path: string, headers: Record<string, string> = {}) {
  const before = app.received.length;
  const res = await request(`${app.url}${path}`, { headers });
  const text = await res.body.text();
  const body = text === '' ? undefined : (JSON.parse(text) as { errors?: { field: string; message: string }[] });
  return { status: res.statusCode, body, backend: app.received.length > before ? app.received[app.received.length - 1] : undefined };
}

describe('query parameters in their styles', () => {
  it('splits form explode:false, pipeDelimited and spaceDelimited lists, and checks each item', async () => {
    const ok = await get('/items?tags=foo,bar&ids=1|2|3&words=a%20b');
    expect(ok.status).toBe(200);
    expect(ok.backend?.query).toEqual({ tags: ['foo', 'bar'], ids: [1, 2, 3], words: ['a', 'b'] });
    const bad = await get('/items?tags=foo,nope&ids=1|x');
    expect(bad.status).toBe(400);
    expect(bad.body?.errors?.map((e) => e.field)).toEqual(expect.arrayContaining(['query.tags[1]', 'query.ids[1]']));
  });

  it('collects an exploded form array from repeated names, coerced to its item type', async () => {
    const r = await get('/items?flags=true&flags=false');
    expect(r.status).toBe(200);
    expect(r.backend?.query).toEqual({ flags: [true, false] });
  });

  it('builds a deepObject from bracketed names (plain or percent-encoded), arrays by index', async () => {
    const r = await get('/items?settings[state]=validated&settings%5Bids%5D%5B0%5D=4&settings[ids][1]=5');
    expect(r.status).toBe(200);
    expect(r.backend?.query).toEqual({ settings: { state: 'validated', ids: [4, 5] } });
    const bad = await get('/items?settings[state]=bogus');
    expect(bad.status).toBe(400);
    expect(bad.body?.errors?.[0].field).toBe('query.settings.state');
    expect((await get('/items?settings[other]=1')).status).toBe(400);
  });

  it('reads a form object exploded into its own names, and an unexploded one as key,value pairs or JSON', async () => {
    const r = await get('/users?who=role,admin,firstName,Alex&offset=10&size=20');
    expect(r.status).toBe(200);
    expect(r.backend?.query).toEqual({ who: { role: 'admin', firstName: 'Alex' }, page: { offset: 10, size: 20 } });
    const json = await get(`/users?who=${encodeURIComponent('{"role":"admin"}')}`);
    expect(json.backend?.query).toEqual({ who: { role: 'admin' } });
    expect((await get('/users?who=firstName,Alex')).status).toBe(400);
    expect((await get('/users?who=role,x&size=99')).body?.errors?.[0].field).toBe('query.page.size');
  });

  it('parses and checks a content (application/json) parameter, which must come percent-encoded', async () => {
    const ok = await get(`/items?filter=${encodeURIComponent('{"color":"red"}')}`);
    expect(ok.status).toBe(200);
    expect(ok.backend?.query).toEqual({ filter: { color: 'red' } });
    expect((await get(`/items?filter=${encodeURIComponent('{"color":"green"}')}`)).body?.errors?.[0].field).toBe('query.filter.color');
    expect((await get('/items?filter={%22color%22:%22red%22}')).status).toBe(400);
  });

  it('refuses reserved characters unless allowReserved, and empty values unless allowEmptyValue', async () => {
    expect((await get('/items?value=a$b!c')).status).toBe(200);
    const reserved = await get('/items?plain=a$b!c');
    expect(reserved.status).toBe(400);
    expect(reserved.body?.errors?.[0]).toMatchObject({ field: 'query.plain', message: expect.stringMatching(/allowReserved/) });
    expect((await get('/items?plain=a%24b%21c')).status).toBe(200);
    expect((await get('/items?note=')).status).toBe(200);
    expect((await get('/items?plain=')).body?.errors?.[0]).toMatchObject({ field: 'query.plain', message: expect.stringMatching(/allowEmptyValue/) });
  });

  it('still refuses names the operation does not declare', async () => {
    const r = await get('/items?colour=red');
    expect(r.status).toBe(400);
    expect(r.body?.errors?.[0]).toMatchObject({ field: 'query.colour', message: expect.stringMatching(/not a query parameter of listItems/) });
  });
});

describe('path, header and cookie parameters in their styles', () => {
  it('reads simple, label and matrix path values and an exploded simple object', async () => {
    expect((await get('/labels/1,2,3')).backend?.pathParams).toEqual({ ids: [1, 2, 3] });
    expect((await get('/labels/1,x')).status).toBe(400);
    expect((await get('/label/.red,blue')).backend?.pathParams).toEqual({ color: ['red', 'blue'] });
    expect((await get('/label/red')).body?.errors?.[0]).toMatchObject({ field: 'path.color', message: 'is not in the label style' });
    expect((await get('/matrix/;id=3;id=4')).backend?.pathParams).toEqual({ id: [3, 4] });
    expect((await get('/point/x=1,y=2')).backend?.pathParams).toEqual({ at: { x: 1, y: 2 } });
    expect((await get('/point/x=1')).status).toBe(400);
  });

  it('reads a simple-style header array', async () => {
    expect((await get('/with-header', { 'x-ids': '1,2,3' })).status).toBe(200);
    expect((await get('/with-header', { 'x-ids': '1,x' })).body?.errors?.[0].field).toBe('headers.x-ids[1]');
    expect((await get('/with-header')).status).toBe(400);
  });

  it('checks cookies: a missing required cookie is a 400 naming it', async () => {
    expect((await get('/with-cookie', { cookie: 'session=abcdef; theme=dark' })).status).toBe(200);
    const missing = await get('/with-cookie', { cookie: 'other=1' });
    expect(missing.status).toBe(400);
    expect(missing.body?.errors?.[0].field).toBe('cookies.session');
    expect((await get('/with-cookie')).status).toBe(400);
    expect((await get('/with-cookie', { cookie: 'session=ab' })).body?.errors?.[0].field).toBe('cookies.session');
    expect((await get('/with-cookie', { cookie: 'session=abcdef; theme=pink' })).body?.errors?.[0].field).toBe('cookies.theme');
  });
});
