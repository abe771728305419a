/**
 * Reads a request body of the media type the operation declared: JSON (bare scalars too),
 * `application/x-www-form-urlencoded`, text and bytes up to `server.bodyLimit` (413 past it), and
 * `multipart/form-data` streamed to a temp file within `server.multipart`'s limits
 * (src/http/multipart-reader.ts). The bytes as sent are kept for kinds that pass a body through
 * (http) where the body is not JSON: in memory for forms, text and bytes; on disk for multipart.
 */
import { tmpdir } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { addField, decodeField, type FieldEncodings } from './form-fields.ts';
import type { BodyKind, MediaType } from './media-types.ts';
import { readMultipart, type MultipartSettings } from './multipart-reader.ts';
import type { SpooledBody } from './multipart-spool.ts';

export type { FieldEncodings } from './form-fields.ts';

export interface ReadBody {
  /** What the request check validates and a kind receives: JSON value, form object, text, bytes. */
  body: unknown;
  /** The body as sent, for pass-through (not kept for JSON or multipart). */
  raw?: Buffer;
  /** A multipart body as sent, spooled to a temp file (removed when the response is over). */
  spool?: SpooledBody;
}

export interface BodyReaders {
  read(req: IncomingMessage, res: ServerResponse, kind: BodyKind, media: MediaType, encodings: FieldEncodings | undefined, objectFields: ReadonlySet<string>): Promise<ReadBody>;
}

/** The multipart limits of `server` (its fields held to `bodyLimit`). */
export function multipartSettings(server: GatewayConfig['server']): MultipartSettings {
  const m = server.multipart;
  return { fileLimit: m.fileLimit, requestLimit: m.requestLimit, fieldsLimit: server.bodyLimit, tempDir: m.tempDir ?? tmpdir() };
}

export function bodyReaders(limit: number, multipart: MultipartSettings): BodyReaders {
  const json = express.json({ limit, strict: false, type: () => true });
  const raw = express.raw({ limit, type: () => true });
  // (body-parser's readers need no more of the request than node's: they only put `body` on it.)
  const runMiddleware = (mw: typeof json, req: IncomingMessage, res: ServerResponse) =>
    new Promise<unknown>((resolve, reject) => {
      const r = req as Request;
      mw(r, res as Response, (err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r.body)));
    });

  async function readRaw(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
    const body = await runMiddleware(raw, req, res);
    return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  }

  return {
    async read(req, res, kind, media, encodings, objectFields) {
      if (kind === 'json') {
        const body = await runMiddleware(json, req, res);
        return { body };
      }
      if (kind === 'multipart') {
        const { fields, spool } = await readMultipart(req, res, multipart, encodings, objectFields);
        return { body: fields, spool };
      }
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
