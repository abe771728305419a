/**
 * multipart/form-data through the gateway to an http upstream, over loopback: files streamed (spooled
 * to a temp file, passed on as a stream, never held in memory), held to server.multipart's limits
 * (413 naming the part), fields checked against the contract, and no spool file left on any path.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigReport } from '../../src/config/load-config.ts';
import { FIXTURES, startGateway, type StartedGateway } from '../helpers/gateway.ts';
import { fileSha256, MiB, multipartUpload, postStream, spoolFiles, startGatewayProcess, startUploadSink, type ReceivedPart } from '../helpers/uploads.ts';
import { eventually } from '../helpers/wait.ts';

const ROOT = `${FIXTURES}multipart-gateway`;
const METADATA = { name: 'metadata', type: 'application/json', value: '{"title":"quarterly report"}' };

let sink: Awaited<ReturnType<typeof startUploadSink>>;
let spoolDir: string;
let gw: StartedGateway;

beforeAll(async () => {
  sink = await startUploadSink();
  spoolDir = mkdtempSync(join(tmpdir(), 'ficus-multipart-test-'));
  gw = await startGateway(ROOT, { UPSTREAM_URL: sink.url, UPLOAD_DIR: spoolDir, FILE_LIMIT: '1MiB', REQUEST_LIMIT: '3MiB', LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await gw?.close();
  await sink?.close();
  rmSync(spoolDir, { recursive: true, force: true });
});

const noSpoolLeft = (dir: string) => eventually(() => spoolFiles(dir).length === 0, undefined, `no spool file left in ${dir} (${spoolFiles(dir).join(', ')})`);

describe('multipart bodies within the limits', () => {
  it('passes the parts on to the upstream as sent (files byte for byte, fields as written) and removes the spool file', async () => {
    const upload = multipartUpload([
      { name: 'file', filename: 'report.pdf', type: 'application/pdf', size: 700_000, seed: 3 },
      METADATA,
      { name: 'pages', value: '12' },
      { name: 'attachment', filename: 'a.png', type: 'image/png', size: 5_000, seed: 4 },
    ]);
    const before = sink.received.length;
    const res = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType, upload.length);
    expect(res.status, res.text).toBe(201);
    const got = sink.received[before];
    expect(got.contentType).toBe(upload.contentType);
    expect(got.contentLength).toBe(String(upload.length));
    const byName = Object.fromEntries(got.parts.map((p) => [p.name, p])) as Record<string, ReceivedPart>;
    expect(byName.file).toMatchObject({ filename: 'report.pdf', type: 'application/pdf', size: 700_000, sha256: fileSha256(700_000, 3) });
    expect(byName.attachment).toMatchObject({ filename: 'a.png', size: 5_000, sha256: fileSha256(5_000, 4) });
    expect(byName.metadata.value).toBe(METADATA.value);
    expect(byName.pages.value).toBe('12');
    await noSpoolLeft(spoolDir);
  });

  it('reads a JSON part sent as a file (curl -F metadata=@meta.json) as the field it is, and checks it', async () => {
    const upload = multipartUpload([
      { name: 'file', filename: 'x.bin', size: 10 },
      { name: 'metadata', filename: 'meta.json', type: 'application/json', value: '{"title":"' + 'x'.repeat(50) + '"}' },
    ]);
    const res = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType);
    expect(res.status).toBe(400);
    expect(res.json().errors?.map((e) => e.field)).toEqual(['body.metadata.title']);
  });
});

describe('limits', () => {
  it('answers 413 naming the file part past server.multipart.fileLimit, never calls the upstream, and leaves no spool file', async () => {
    const upload = multipartUpload([METADATA, { name: 'file', filename: 'big.bin', type: 'application/octet-stream', size: 3 * MiB }]);
    const before = sink.received.length;
    const res = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem.type).toBe('https://ficus.dev/problems/payload-too-large');
    expect(problem.errors).toEqual([{ field: 'body.file', message: 'is larger than server.multipart.fileLimit (1MiB)' }]);
    expect(sink.received.length).toBe(before);
    await noSpoolLeft(spoolDir);
  });

  it('answers 413 naming the part that takes the whole body past server.multipart.requestLimit', async () => {
    const parts = [METADATA, { name: 'file', filename: 'a.bin', size: 900_000 }, ...[1, 2, 3].map((i) => ({ name: 'attachment', filename: `${i}.bin`, size: 900_000 }))];
    const upload = multipartUpload(parts);
    // Sent chunked, so the gateway finds out only as the bytes arrive.
    const res = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType);
    expect(res.status).toBe(413);
    expect(res.json().errors?.[0].field).toBe('body.attachment');
    expect(res.json().detail).toMatch(/server\.multipart\.requestLimit \(3MiB\)/);
    // With a Content-Length past the limit, it is refused before a byte is read.
    const declared = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType, upload.length);
    expect(declared.status).toBe(413);
    expect(declared.json().detail).toBe(`the multipart body is ${upload.length} bytes, larger than server.multipart.requestLimit (3MiB)`);
    await noSpoolLeft(spoolDir);
  });
});

describe('the contract', () => {
  it('answers 400 naming each field that fails its schema, and leaves no spool file', async () => {
    const upload = multipartUpload([
      { name: 'file', filename: 'a.pdf', type: 'application/pdf', size: 200_000 },
      { name: 'metadata', type: 'application/json', value: '{"author":"x"}' },
      { name: 'pages', value: '0' },
    ]);
    const before = sink.received.length;
    const res = await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType, upload.length);
    expect(res.status).toBe(400);
    expect(
      res
        .json()
        .errors?.map((e) => e.field)
        .sort(),
    ).toEqual(['body.metadata.title', 'body.pages']);
    expect(sink.received.length).toBe(before);
    await noSpoolLeft(spoolDir);
  });

  it("refuses a part whose Content-Type its encoding does not take (415 naming the part); takes one the encoding's wildcard allows", async () => {
    const html = multipartUpload([{ name: 'file', filename: 'a.html', type: 'text/html', size: 100 }, METADATA]);
    const res = await postStream(`${gw.url}/documents`, html.stream(), html.contentType);
    expect(res.status).toBe(415);
    expect(res.json().errors).toEqual([{ field: 'body.file', message: 'is text/html; its encoding takes application/octet-stream, application/pdf, image/*' }]);
    const image = multipartUpload([{ name: 'file', filename: 'a.webp', type: 'image/webp', size: 100 }, METADATA]);
    expect((await postStream(`${gw.url}/documents`, image.stream(), image.contentType)).status).toBe(201);
    const textMeta = multipartUpload([
      { name: 'file', filename: 'a.bin', size: 100 },
      { ...METADATA, type: 'text/csv' },
    ]);
    expect((await postStream(`${gw.url}/documents`, textMeta.stream(), textMeta.contentType)).json().errors?.[0].field).toBe('body.metadata');
    await noSpoolLeft(spoolDir);
  });
});

describe('a caller that hangs up mid-upload', () => {
  it('leaves no spool file, is logged as 499, and the gateway goes on serving', async () => {
    const upload = multipartUpload([METADATA, { name: 'file', filename: 'big.bin', size: 900_000 }]);
    const whole = upload.stream();
    const body = new PassThrough();
    // Half the body, then nothing more until the caller goes away.
    let sent = 0;
    whole.on('data', (c: Buffer) => {
      if (sent < 400_000) body.write(c);
      sent += c.length;
    });
    const before = sink.received.length;
    // This request's own spool file and log line (not one an earlier request left).
    const spooledBefore = new Set(spoolFiles(spoolDir));
    const loggedBefore = gw.logLines.length;
    const hangUp = new AbortController();
    const answer = postStream(`${gw.url}/documents`, body, upload.contentType, upload.length, hangUp.signal).catch((err: Error) => err);
    await eventually(() => spoolFiles(spoolDir).some((f) => !spooledBefore.has(f)), undefined, 'this upload to be spooled');
    hangUp.abort();
    expect(await answer).toBeInstanceOf(Error);
    await noSpoolLeft(spoolDir);
    await eventually(() => gw.logLines.slice(loggedBefore).some((l) => l.operation === 'uploadDocument' && l.status === 499), undefined, 'the 499 log line');
    expect(sink.received.length).toBe(before);
    const next = multipartUpload([METADATA, { name: 'file', filename: 'a.bin', size: 1000 }]);
    expect((await postStream(`${gw.url}/documents`, next.stream(), next.contentType)).status).toBe(201);
    await noSpoolLeft(spoolDir);
  });
});

describe('a malformed body', () => {
  it('that ends inside a file is refused with 400, leaves no spool file, and the gateway goes on serving', async () => {
    const upload = multipartUpload([METADATA, { name: 'file', filename: 'cut.bin', size: 300_000 }]);
    const whole = Buffer.concat(await upload.stream().toArray());
    // Sent chunked and ended properly at the HTTP level, but the form stops halfway through the file.
    const res = await postStream(`${gw.url}/documents`, Readable.from([whole.subarray(0, 150_000)]), upload.contentType);
    expect(res.status).toBe(400);
    expect(res.json().detail).toMatch(/malformed/);
    await noSpoolLeft(spoolDir);
    expect((await postStream(`${gw.url}/documents`, upload.stream(), upload.contentType)).status).toBe(201);
  });
});

describe('server.multipart in ficus.yaml', () => {
  it('is checked at start-up: a fileLimit over the requestLimit and a tempDir that is no folder are named with the fix', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ficus-multipart-config-'));
    try {
      mkdirSync(join(root, 'adapters'));
      writeFileSync(join(root, 'openapi.yaml'), 'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n');
      writeFileSync(join(root, 'ficus.yaml'), 'server:\n  multipart:\n    fileLimit: 20MiB\n    requestLimit: 10MiB\n    tempDir: no-such-folder\nstate:\n  driver: sqlite\n  file: ":memory:"\n');
      const report = await loadConfigReport({ root, env: {} });
      const byKey = Object.fromEntries(report.errors.map((e) => [e.key, e]));
      expect(byKey['server.multipart.fileLimit']).toMatchObject({ line: 3, problem: '20MiB is larger than server.multipart.requestLimit (10MiB), which every file part counts against too' });
      expect(byKey['server.multipart.fileLimit'].fix).toMatch(/make fileLimit at most requestLimit/);
      expect(byKey['server.multipart.tempDir']).toMatchObject({ line: 5, problem: `${join(root, 'no-such-folder')} is not a folder` });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a large file', () => {
  it("streams 160 MiB through to the upstream without the gateway's memory growing by the file's size", { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-multipart-large-'));
    const proc = await startGatewayProcess(ROOT, { UPSTREAM_URL: sink.url, UPLOAD_DIR: dir, FILE_LIMIT: '200MiB', REQUEST_LIMIT: '400MiB' });
    try {
      // A small upload first, so that what serves uploads is loaded before the measure starts.
      const warm = multipartUpload([METADATA, { name: 'file', filename: 'w.bin', size: 200_000 }]);
      expect((await postStream(`${proc.url}/documents`, warm.stream(), warm.contentType)).status).toBe(201);
      const size = 160 * MiB;
      const upload = multipartUpload([METADATA, { name: 'file', filename: 'large.bin', type: 'application/octet-stream', size, seed: 9 }]);
      const before = sink.received.length;
      const base = proc.resetPeak();
      const res = await postStream(`${proc.url}/documents`, upload.stream(), upload.contentType, upload.length);
      const growth = proc.peak() - base;
      expect(res.status, res.text).toBe(201);
      const file = sink.received[before].parts.find((p) => p.name === 'file');
      expect(file).toMatchObject({ size, sha256: fileSha256(size, 9) });
      // Held whole, the body would take its size at least (and twice that to pass it on). Streamed, the
      // growth is garbage awaiting collection, not the file: 27-51 MiB measured for 96-192 MiB files
      // (V8 collects once external memory has grown by tens of MiB), so the bound is generous.
      expect(growth, `the gateway's peak resident memory grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(96 * MiB);
      await noSpoolLeft(dir);
    } finally {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
