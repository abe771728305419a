/**
 * Reads a `multipart/form-data` body as it streams in, never holding a file in memory: busboy parses
 * the parts while the bytes as sent are spooled to a temp file (src/http/multipart-spool.ts), which
 * the http kind passes on as a stream once the fields have been checked.
 *
 * - Fields (and a part the contract writes as JSON, sent as a file) are decoded as the contract
 *   writes them (JSON where its `encoding.contentType` is JSON or its schema an object) into the body
 *   object the request check validates; together they are held to `server.bodyLimit`.
 * - A file part stands in that object as its file name; each is held to `server.multipart.fileLimit`.
 * - The whole body is held to `server.multipart.requestLimit` (a Content-Length past it is refused
 *   before anything is read).
 * - A part whose Content-Type its `encoding.contentType` does not allow is refused (415 naming it).
 *   busboy reports a part sent without a Content-Type as `text/plain`: such a part is taken as of the
 *   type its encoding says.
 *
 * A limit passed is a 413 naming the part; the temp file is removed at once when reading fails (a
 * limit, a malformed body, the caller hanging up), else when the response is over.
 */
import busboy from 'busboy';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatSize } from '../config/units.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import { addField, encodingAllows, jsonByContract, jsonField, type FieldEncodings } from './form-fields.ts';
import { SpooledBody } from './multipart-spool.ts';

export interface MultipartSettings {
  /** Largest file part (`server.multipart.fileLimit`). */
  fileLimit: number;
  /** Largest body as a whole (`server.multipart.requestLimit`). */
  requestLimit: number;
  /** Largest total of the fields, which are held in memory (`server.bodyLimit`). */
  fieldsLimit: number;
  /** Where bodies are spooled (`server.multipart.tempDir`, else the system's temporary folder). */
  tempDir: string;
}

export interface MultipartBody {
  /** The fields, decoded; a file part as its file name. */
  fields: Record<string, unknown>;
  /** The body as sent, on disk. */
  spool: SpooledBody;
}

/** How many parts a body may have (busboy's count limits). */
const MAX_PARTS = { fields: 1000, files: 100, parts: 1100 };

function partTooLarge(part: string, message: string): Problem {
  return new Problem(PROBLEMS.payloadTooLarge, { detail: `body.${part}: ${message}`, errors: [{ field: `body.${part}`, message }] });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function readMultipart(
  req: IncomingMessage,
  res: ServerResponse,
  settings: MultipartSettings,
  encodings: FieldEncodings | undefined,
  objectFields: ReadonlySet<string>,
): Promise<MultipartBody> {
  const { fileLimit, requestLimit, fieldsLimit } = settings;
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > requestLimit) {
      reject(new Problem(PROBLEMS.payloadTooLarge, { detail: `the multipart body is ${declared} bytes, larger than server.multipart.requestLimit (${formatSize(requestLimit)})` }));
      return;
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: fileLimit, fieldSize: fieldsLimit, ...MAX_PARTS } });
    } catch (err) {
      reject(new Problem(PROBLEMS.validation, { detail: `the multipart body cannot be read: ${messageOf(err)}` }));
      return;
    }
    const spool = new SpooledBody(settings.tempDir);
    // The request's hold on the file, let go of when the response is over, whichever way it ends.
    res.once('close', () => spool.release());
    const fields: Record<string, unknown> = {};
    let size = 0;
    let fieldBytes = 0;
    /** The file part being read (its stream: two parts may have one name). */
    let current: { name: string; stream: unknown } | undefined;
    let settled = false;
    let parsed = false;
    let written = false;

    const fail = (problem: Problem) => {
      if (settled) return;
      settled = true;
      // The rest of the body is read and dropped while the answer goes out.
      req.resume();
      // Answered once the spool file is gone: when the refusal comes before the file's open has
      // completed, the file would otherwise come into being after the answer (and be removed later).
      void spool.remove().then(() => reject(problem));
    };
    const finish = () => {
      if (settled || !parsed || !written) return;
      settled = true;
      spool.size = size;
      resolve({ fields, spool });
    };

    const typeAllowed = (name: string, type: string): boolean => {
      const allowed = encodings?.[name]?.contentType;
      if (type === 'text/plain' || encodingAllows(allowed, type)) return true;
      const message = `is ${type}; its encoding takes ${allowed ?? ''}`;
      fail(new Problem(PROBLEMS.unsupportedMediaType, { detail: `body.${name}: ${message}`, errors: [{ field: `body.${name}`, message }] }));
      return false;
    };
    const takeField = (name: string, text: string, asJson: boolean) => {
      fieldBytes += Buffer.byteLength(text);
      if (fieldBytes > fieldsLimit) {
        fail(partTooLarge(name, `the fields are larger than server.bodyLimit (${formatSize(fieldsLimit)}) together`));
        return;
      }
      try {
        addField(fields, name, asJson ? jsonField(name, text) : text);
      } catch (err) {
        fail(err instanceof Problem ? err : new Problem(PROBLEMS.validation, { detail: messageOf(err) }));
      }
    };

    parser.on('field', (name, value, info) => {
      if (settled) return;
      if (info.valueTruncated) {
        fail(partTooLarge(name, `is larger than server.bodyLimit (${formatSize(fieldsLimit)})`));
        return;
      }
      if (!typeAllowed(name, info.mimeType)) return;
      takeField(name, value, jsonByContract(name, encodings, objectFields));
    });
    parser.on('file', (name, stream, info) => {
      // A body that ends inside a file destroys its stream with an error; the parser's own 'error' answers for it.
      stream.on('error', () => undefined);
      if (settled || !typeAllowed(name, info.mimeType)) {
        stream.resume();
        return;
      }
      if (jsonByContract(name, encodings, objectFields)) {
        // A part the contract writes as JSON, sent as a file (`curl -F 'metadata=@meta.json'`): read as the field it is, within the fields' limit.
        const chunks: Buffer[] = [];
        let n = 0;
        stream.on('data', (chunk: Buffer) => {
          n += chunk.length;
          if (fieldBytes + n > fieldsLimit) fail(partTooLarge(name, `the fields are larger than server.bodyLimit (${formatSize(fieldsLimit)}) together`));
          else if (!settled) chunks.push(chunk);
        });
        stream.on('end', () => {
          if (!settled) takeField(name, Buffer.concat(chunks).toString('utf8'), true);
        });
        return;
      }
      // A file: its bytes are already on their way to the spool; here they are only counted.
      current = { name, stream };
      stream.on('limit', () => fail(partTooLarge(name, `is larger than server.multipart.fileLimit (${formatSize(fileLimit)})`)));
      stream.on('end', () => {
        if (current?.stream === stream) current = undefined;
      });
      stream.resume();
      addField(fields, name, info.filename ?? '');
    });
    const tooMany = (what: string, n: number) => () => fail(new Problem(PROBLEMS.payloadTooLarge, { detail: `the multipart body has more than ${n} ${what}` }));
    parser.on('partsLimit', tooMany('parts', MAX_PARTS.parts));
    parser.on('filesLimit', tooMany('files', MAX_PARTS.files));
    parser.on('fieldsLimit', tooMany('fields', MAX_PARTS.fields));
    parser.on('error', (err: Error) => fail(new Problem(PROBLEMS.validation, { detail: `the multipart body is malformed: ${err.message}` })));
    parser.on('close', () => {
      parsed = true;
      finish();
    });
    spool.writer.on('error', (err) => fail(new Problem(PROBLEMS.internal, { detail: `the upload cannot be spooled to ${settings.tempDir}: ${err.message}` })));
    spool.writer.on('close', () => {
      written = true;
      finish();
    });

    // The body goes to the spool and to the parser at the pace of the slower of the two.
    let waiting = 0;
    const drained = () => {
      waiting--;
      if (waiting === 0 && !settled) req.resume();
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > requestLimit) {
        // The parser sees this chunk first, so that the part it reaches into is the one named.
        parser.write(chunk);
        const limit = `server.multipart.requestLimit (${formatSize(requestLimit)})`;
        fail(current ? partTooLarge(current.name, `takes the body past ${limit}`) : new Problem(PROBLEMS.payloadTooLarge, { detail: `the multipart body is larger than ${limit}` }));
        return;
      }
      if (!spool.writer.write(chunk)) {
        waiting++;
        spool.writer.once('drain', drained);
      }
      if (!settled && !parser.write(chunk)) {
        waiting++;
        parser.once('drain', drained);
      }
      if (waiting > 0 && !settled) req.pause();
    });
    req.on('end', () => {
      if (settled) return;
      spool.writer.end();
      parser.end();
    });
    const hungUp = () => fail(new Problem(PROBLEMS.clientClosedRequest, { detail: 'the caller hung up before the multipart body was read' }));
    req.on('error', hungUp);
    req.on('close', () => {
      if (!req.complete) hungUp();
    });
  });
}
