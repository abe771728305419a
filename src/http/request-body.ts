/**
 * Reads a request body of the media type the operation declared, up to `server.bodyLimit` (413
 * past it): JSON (bare scalars too), `application/x-www-form-urlencoded`, `multipart/form-data`
 * (streamed through busboy: each file counted against the limit as it arrives, its parts named,
 * fields decoded per the contract's `encoding`), text and bytes. The bytes as sent are kept for
 * kinds that pass a body through (http) where the body is not JSON.
 */
import busboy from 'busboy';
import express, { type Request, type Response } from 'express';
import { PROBLEMS, Problem } from '../problem.ts';
import type { BodyKind, MediaType } from './media-types.ts';

export interface ReadBody {
  /** What the request check validates and a kind receives: JSON value, form object, text, bytes. */
  body: unknown;
  /** The body as sent, for pass-through (not kept for JSON). */
  raw?: Buffer;
}

/** Per property of a form or multipart body: the media type its value is written in (`encoding`). */
export type FieldEncodings = Record<string, { contentType?: string }>;

export interface BodyReaders {
  read(req: Request, res: Response, kind: BodyKind, media: MediaType, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): Promise<ReadBody>;
}

function tooLarge(limit: number): Problem {
  return new Problem(PROBLEMS.payloadTooLarge, { detail: `the request body is larger than ${limit} bytes (server.bodyLimit)` });
}

function jsonField(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Problem(PROBLEMS.validation, { detail: `body.${name}: is not valid JSON`, errors: [{ field: `body.${name}`, message: 'is not valid JSON' }] });
  }
}

function addField(out: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__' || name === 'constructor' || name === 'prototype') return;
  const prev = out[name];
  out[name] = prev === undefined ? value : Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
}

function decodeField(name: string, value: string, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): unknown {
  const ct = encodings?.[name]?.contentType?.toLowerCase();
  if ((ct !== undefined && (ct.startsWith('application/json') || ct.includes('+json'))) || (ct === undefined && objectFields.has(name))) return jsonField(name, value);
  return value;
}

export function bodyReaders(limit: number): BodyReaders {
  const json = express.json({ limit, strict: false, type: () => true });
  const raw = express.raw({ limit, type: () => true });
  const runMiddleware = (mw: typeof json, req: Request, res: Response) =>
    new Promise<unknown>((resolve, reject) => {
      mw(req, res, (err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(req.body)));
    });

  async function readRaw(req: Request, res: Response): Promise<Buffer> {
    const body = await runMiddleware(raw, req, res);
    return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  }

  function readMultipart(req: Request, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): Promise<ReadBody> {
    return new Promise((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, limits: { fileSize: limit, fieldSize: limit, fields: 1000, files: 100, parts: 1100 } });
      } catch (err) {
        reject(new Problem(PROBLEMS.validation, { detail: `the multipart body cannot be read: ${err instanceof Error ? err.message : String(err)}` }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const out: Record<string, unknown> = {};
      const fail = (p: Problem) => {
        if (failed) return;
        failed = true;
        req.unpipe(bb);
        req.resume();
        reject(p);
      };
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) fail(tooLarge(limit));
        else chunks.push(chunk);
      });
      bb.on('field', (name, value) => {
        try {
          addField(out, name, decodeField(name, value, encodings, objectFields));
        } catch (err) {
          fail(err instanceof Problem ? err : new Problem(PROBLEMS.validation, { detail: String(err) }));
        }
      });
      bb.on('file', (name, stream, info) => {
        // The file's bytes are counted as they stream by; the part stands in the body as its name.
        stream.on('limit', () => fail(tooLarge(limit)));
        stream.resume();
        addField(out, name, info.filename ?? '');
      });
      bb.on('error', (err: Error) => fail(new Problem(PROBLEMS.validation, { detail: `the multipart body is malformed: ${err.message}` })));
      bb.on('close', () => {
        if (!failed) resolve({ body: out, raw: Buffer.concat(chunks) });
      });
      req.pipe(bb);
    });
  }

  return {
    async read(req, res, kind, media, encodings, objectFields) {
      if (kind === 'json') {
        const body = await runMiddleware(json, req, res);
        return { body };
      }
      if (kind === 'multipart') return readMultipart(req, encodings, objectFields);
      const bytes = await readRaw(req, res);
      const charset = media.params.charset;
      const text = () => bytes.toString(charset === 'iso-8859-1' || charset === 'latin1' ? 'latin1' : 'utf8');
      if (kind === 'form') {
        const out: Record<string, unknown> = {};
        for (const [k, v] of new URLSearchParams(text())) addField(out, k, decodeField(k, v, encodings, objectFields));
        return { body: out, raw: bytes };
      }
      if (kind === 'text') return { body: text(), raw: bytes };
      return { body: bytes, raw: bytes };
    },
  };
}
