import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/gateway.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { startContractApp, type ContractApp } from './contract-app.ts';

let app: ContractApp;
/** A multipart body as the backend could read it while serving the call (its spool file goes when the answer is sent). */
const spooled = new Map<OperationRequest, Buffer>();
beforeAll(async () => {
  const serve = async (req: OperationRequest) => {
    if (req.bodySource) spooled.set(req, Buffer.concat(await req.bodySource.open().toArray()));
    return { status: 200 };
  };
  app = await startContractApp(`${FIXTURES}openapi-validation/bodies.yaml`, serve, { bodyLimit: '2kB', multipart: { fileLimit: '2kB', requestLimit: '1MiB' } });
});
afterAll(() => app.close());

async function post(path: string, body: string | Buffer, contentType: string | undefined) {
  const before = app.received.length;
  const res = await request(`${app.url}${path}`, { method: 'POST', body, headers: contentType ? { 'content-type': contentType } : {} });
  const text = await res.body.text();
  const parsed = text === '' ? undefined : (JSON.parse(text) as { type?: string; detail?: string; errors?: { field: string; message: string }[] });
  return { status: res.statusCode, body: parsed, backend: app.received.length > before ? app.received[app.received.length - 1] : undefined };
}

function multipart(parts: { name: string; value: string; filename?: string; type?: string }[]): { body: string; type: string } {
  const b = 'ficus-test-boundary';
  let body = '';
  for (const p of parts) {
    body += `--${b}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n`;
    body += `${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n${p.value}\r\n`;
  }
  return { body: `${body}--${b}--\r\n`, type: `multipart/form-data; boundary=${b}` };
}

describe('JSON bodies', () => {
  it('takes a bare JSON scalar as the whole body and checks it', async () => {
    const ok = await post('/scalar', '"."', 'application/json');
    expect(ok.status).toBe(200);
    expect(ok.backend?.body).toBe('.');
    expect((await post('/scalar', '"x"', 'application/json')).status).toBe(400);
  });

  it('matches media type parameters as declared (charset in any case; version must be the declared one)', async () => {
    expect((await post('/versions', '{"v1":"a"}', 'application/json; version=1')).status).toBe(200);
    expect((await post('/versions', '{"v1":"a"}', 'application/json;version=1')).status).toBe(200);
    expect((await post('/versions', '{"name":"a"}', 'application/json; charset=UTF-8')).status).toBe(200);
    expect((await post('/versions', '{"name":"a"}', 'application/json')).status).toBe(200);
    // checked against the schema of the media type it matched
    expect((await post('/versions', '{"name":"a"}', 'application/json; version=1')).body?.errors?.[0].field).toBe('body.v1');
    expect((await post('/versions', '{"acme":"a"}', 'application/vnd.acme+json')).status).toBe(200);
    const undeclared = await post('/versions', '{"v1":"a"}', 'application/json; version=2');
    expect(undeclared.status).toBe(415);
    expect(undeclared.body?.type).toBe('https://ficus.dev/problems/unsupported-media-type');
    expect(undeclared.backend).toBeUndefined();
  });
});

describe('forms', () => {
  it('refuses JSON sent to an operation that takes only forms (it never reaches the backend)', async () => {
    const r = await post('/upload', '{"title":"x"}', 'application/json');
    expect(r.status).toBe(415);
    expect(r.body?.detail).toMatch(/multipart\/form-data, application\/x-www-form-urlencoded/);
    expect(r.backend).toBeUndefined();
  });

  it('reads an urlencoded form, coerces its fields to their types and checks them', async () => {
    const ok = await post('/upload', 'title=Hello+there&count=3', 'application/x-www-form-urlencoded');
    expect(ok.status).toBe(200);
    expect(ok.backend?.body).toEqual({ title: 'Hello there', count: 3 });
    expect(ok.backend?.media).toBe('application/x-www-form-urlencoded');
    expect(ok.backend?.rawBody?.toString()).toBe('title=Hello+there&count=3');
    const bad = await post('/upload', 'count=11', 'application/x-www-form-urlencoded');
    expect(bad.body?.errors?.map((e) => e.field)).toEqual(expect.arrayContaining(['body.title', 'body.count']));
  });

  it('reads multipart parts (a file by its name, a JSON field by its encoding) and passes the bytes on', async () => {
    const m = multipart([
      { name: 'file', filename: 'a.png', type: 'image/png', value: 'PNGDATA' },
      { name: 'metadata', type: 'application/json', value: '{"title":"a picture"}' },
      { name: 'count', value: '2' },
    ]);
    const ok = await post('/upload', m.body, m.type);
    expect(ok.status).toBe(200);
    expect(ok.backend?.body).toEqual({ file: 'a.png', metadata: { title: 'a picture' }, count: 2 });
    expect(ok.backend?.rawBody).toBeUndefined();
    expect(ok.backend?.bodySource?.size).toBe(Buffer.byteLength(m.body));
    expect(spooled.get(ok.backend as OperationRequest)?.toString()).toBe(m.body);
    const noFile = multipart([{ name: 'metadata', value: '{"title":"x"}' }]);
    expect((await post('/upload', noFile.body, noFile.type)).body?.errors?.[0].field).toBe('body.file');
    const badJson = multipart([
      { name: 'file', filename: 'a.png', value: 'x' },
      { name: 'metadata', value: '{not json' },
    ]);
    expect((await post('/upload', badJson.body, badJson.type)).body?.errors?.[0]).toEqual({ field: 'body.metadata', message: 'is not valid JSON' });
  });

  it('stops a multipart file past server.multipart.fileLimit with 413 naming the part', async () => {
    const m = multipart([
      { name: 'file', filename: 'big.bin', value: 'x'.repeat(5000) },
      { name: 'metadata', value: '{"title":"x"}' },
    ]);
    const r = await post('/upload', m.body, m.type);
    expect(r.status).toBe(413);
    expect(r.body?.errors?.[0].field).toBe('body.file');
    expect(r.backend).toBeUndefined();
  });
});

describe('text, bytes and wildcards', () => {
  it('takes text as a string checked against its schema, bytes as they are, anything else by */*', async () => {
    const text = await post('/notes', 'hello', 'text/plain');
    expect(text.status).toBe(200);
    expect(text.backend?.body).toBe('hello');
    expect((await post('/notes', 'x'.repeat(30), 'text/plain')).body?.errors?.[0].field).toBe('body');
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
    const bin = await post('/notes', bytes, 'application/octet-stream');
    expect(bin.status).toBe(200);
    expect(Buffer.compare(bin.backend?.body as Buffer, bytes)).toBe(0);
    const html = await post('/notes', '<p>hi</p>', 'text/html');
    expect(html.status).toBe(200);
    expect(html.backend?.media).toBe('text/html');
  });
});
