/**
 * Multipart uploads for tests and benches: bodies generated as streams (a file of any size is made
 * chunk by chunk, never held whole), a client that streams them over loopback, a service that takes
 * them apart as they arrive (busboy) and says what it received (each file's size and SHA-256), the
 * spool files a gateway leaves, and a gateway in a process of its own whose memory can be read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { PROJECT_ROOT } from './gateway.ts';

const CHUNK = 64 * 1024;
export const MiB = 2 ** 20;

/** A part: a field's text, or a generated file of `size` bytes (its bytes follow from `seed`). */
export type UploadPart = { name: string; value: string; type?: string } | { name: string; filename: string; size: number; type?: string; seed?: number };

function isFile(p: UploadPart): p is Extract<UploadPart, { size: number }> {
  return 'size' in p;
}

/** The bytes of a generated file, chunk by chunk. */
function* fileChunks(size: number, seed: number): Generator<Buffer> {
  for (let at = 0, i = 0; at < size; at += CHUNK, i++) {
    const n = Math.min(CHUNK, size - at);
    const chunk = Buffer.allocUnsafe(n);
    chunk.fill((seed + i * 31) & 0xff);
    chunk.writeUInt32BE(i >>> 0, 0);
    yield chunk.subarray(0, n);
  }
}

/** The SHA-256 of a generated file, computed the same way (for comparing with what a service received). */
export function fileSha256(size: number, seed = 1): string {
  const h = createHash('sha256');
  for (const c of fileChunks(size, seed)) h.update(c);
  return h.digest('hex');
}

export interface MultipartUpload {
  contentType: string;
  /** The body's length in bytes. */
  length: number;
  /** A fresh stream of the body (each call its own). */
  stream(): Readable;
}

export function multipartUpload(parts: UploadPart[], boundary = `ficus-test-${Date.now().toString(36)}`): MultipartUpload {
  const heads = parts.map((p) => {
    const disposition = `Content-Disposition: form-data; name="${p.name}"${isFile(p) ? `; filename="${p.filename}"` : ''}`;
    return Buffer.from(`--${boundary}\r\n${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`);
  });
  const tail = Buffer.from(`--${boundary}--\r\n`);
  let length = tail.length;
  parts.forEach((p, i) => (length += heads[i].length + (isFile(p) ? p.size : Buffer.byteLength(p.value)) + 2));
  function* all(): Generator<Buffer> {
    for (const [i, p] of parts.entries()) {
      yield heads[i];
      if (isFile(p)) yield* fileChunks(p.size, p.seed ?? 1);
      else yield Buffer.from(p.value);
      yield Buffer.from('\r\n');
    }
    yield tail;
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, stream: () => Readable.from(all(), { objectMode: false }) };
}

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  json<T = { type?: string; detail?: string; errors?: { field: string; message: string }[] }>(): T;
}

/**
 * POSTs a stream on a connection of its own (chunked unless `length` is given) and resolves with the
 * answer, also when the answer comes before the body was all sent; `signal` hangs up.
 */
export function postStream(url: string, body: Readable, contentType: string, length?: number, signal?: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (length !== undefined) headers['content-length'] = String(length);
    const req = request(url, { method: 'POST', headers, agent: false, signal }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

export interface ReceivedPart {
  name: string;
  filename?: string;
  type: string;
  size?: number;
  sha256?: string;
  value?: string;
}

/** A service that takes uploads apart as they stream in and answers 201 with what it received. */
export async function startUploadSink() {
  const received: { contentType?: string; contentLength?: string; parts: ReceivedPart[] }[] = [];
  const server = createServer((req, res) => {
    const parts: ReceivedPart[] = [];
    const entry = { contentType: req.headers['content-type'], contentLength: req.headers['content-length'], parts };
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: Infinity } });
    } catch {
      // Not an upload (the gateway's health check): fine.
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"up"}');
      return;
    }
    bb.on('field', (name, value, info) => parts.push({ name, value, type: info.mimeType }));
    bb.on('file', (name, stream, info) => {
      const h = createHash('sha256');
      const part: ReceivedPart = { name, filename: info.filename, type: info.mimeType, size: 0 };
      parts.push(part);
      stream.on('data', (c: Buffer) => {
        h.update(c);
        part.size = (part.size ?? 0) + c.length;
      });
      stream.on('end', () => (part.sha256 = h.digest('hex')));
    });
    bb.on('close', () => {
      received.push(entry);
      const text = JSON.stringify({ parts });
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    bb.on('error', (err: Error) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ detail: err.message }));
    });
    req.pipe(bb);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The spool files (`ficus-upload-*`) in `dir`. */
export function spoolFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('ficus-upload-'));
}

export interface GatewayProcess {
  url: string;
  pid: number;
  /** Resident memory now, in bytes (VmRSS). */
  rss(): number;
  /** Starts measuring the peak from now (resets VmHWM where the kernel lets it); returns the resident memory now. */
  resetPeak(): number;
  /** The peak resident memory since `resetPeak` (VmHWM, or the highest VmRSS sampled where it cannot be reset), in bytes. */
  peak(): number;
  output(): string;
  stop(): Promise<void>;
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** `ficus start --workers 1` over `root` in a process of its own (from `checkout`, default this one), on a free loopback port. */
export function startGatewayProcess(root: string, env: Record<string, string>, checkout = PROJECT_ROOT, limitMs = 90_000): Promise<GatewayProcess> {
  const proc: ChildProcess = spawn(process.execPath, [join(checkout, 'bin/ficus.js'), 'start', '--root', root, '--port', '0', '--host', '127.0.0.1', '--workers', '1'], {
    env: { ...process.env, ...env, NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const pid = proc.pid ?? 0;
  let resettable = false;
  let sampledPeak = 0;
  let sampler: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (sampler) clearInterval(sampler);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the gateway did not listen within ${limitMs} ms:\n${out}`));
    }, limitMs);
    const look = () => {
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      proc.stdout?.off('data', look);
      resolve({
        url,
        pid,
        rss: () => statusKiB(pid, 'VmRSS'),
        resetPeak() {
          if (sampler) clearInterval(sampler);
          try {
            writeFileSync(`/proc/${pid}/clear_refs`, '5');
            resettable = true;
          } catch {
            resettable = false;
            sampledPeak = statusKiB(pid, 'VmRSS');
            sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, statusKiB(pid, 'VmRSS'))), 10);
          }
          return statusKiB(pid, 'VmRSS');
        },
        peak: () => (resettable ? statusKiB(pid, 'VmHWM') : Math.max(sampledPeak, statusKiB(pid, 'VmRSS'))),
        output: () => out,
        stop,
      });
    };
    proc.stdout?.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited before it listened:\n${out}`));
    });
  });
}
