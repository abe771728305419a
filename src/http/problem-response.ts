/** Turns any error into an RFC 9457 problem response; knows the errors of Express, body-parser and the validator. */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from '../observability/logger.ts';
import { PROBLEM_CONTENT_TYPE, Problem, ProblemType, RETRY_AFTER_SECONDS, type FieldError } from '../problem.ts';

interface ValidatorError {
  code?: string;
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
  headers?: Record<string, string>;
}

/** `.query.limit` → `query.limit`; `.body.lines[0].sku` → `body.lines[0].sku`; `/body/x` → `body.x`. */
export function validatorPathToField(path: string): string {
  const field = path.startsWith('/')
    ? path.slice(1).split('/').map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
    : path.replace(/^\./, '');
  return field.replace(/^params\b/, 'path');
}

export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  const e = (err ?? {}) as ValidatorError;
  const status = e.status ?? e.statusCode;
  if (e.type === 'entity.parse.failed') {
    return new Problem(400, ProblemType.malformedJson, 'The request body is not valid JSON', { detail: e.message });
  }
  if (e.type === 'entity.too.large') {
    return new Problem(413, ProblemType.payloadTooLarge, 'The request body is too large', { detail: e.message });
  }
  if (e.type === 'request.aborted') {
    // 499 (as nginx says it): nobody is left to read this; the request log says so, at info level.
    return new Problem(499, ProblemType.validation, 'The caller closed the connection', { detail: 'the caller went away before sending its whole body' });
  }
  if (e.type === 'request.size.invalid') {
    return new Problem(400, ProblemType.validation, 'The request body is incomplete', { detail: e.message, errors: [{ field: 'body', message: e.message ?? 'request size did not match content length' }] });
  }
  if (typeof e.code === 'string' && e.code.startsWith('Z_') && status === 400) {
    // zlib's errors: a body sent with content-encoding gzip/deflate/br that does not decompress.
    return new Problem(400, ProblemType.malformedJson, 'The request body could not be decompressed', { detail: `the body does not decompress as its content-encoding says (gzip, deflate or br): ${e.message ?? e.code}` });
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new Problem(415, ProblemType.unsupportedMediaType, 'Unsupported request encoding', { detail: e.message });
  }
  if (typeof status === 'number' && Array.isArray(e.errors)) {
    const errors: FieldError[] = e.errors.map((x) => ({ field: validatorPathToField(x.path ?? ''), message: x.message ?? 'invalid' }));
    if (status === 400) return new Problem(400, ProblemType.validation, 'The request does not match the contract', { detail: errors.map((x) => `${x.field}: ${x.message}`).join('; '), errors });
    if (status === 404) return new Problem(404, ProblemType.routeNotFound, 'No such route', { detail: e.message });
    if (status === 405) return new Problem(405, ProblemType.methodNotAllowed, 'Method not allowed', { detail: e.message, headers: e.headers ?? {} });
    if (status === 415) return new Problem(415, ProblemType.unsupportedMediaType, 'Unsupported media type', { detail: `${e.message ?? 'unsupported media type'}; send application/json` });
    if (status === 413) return new Problem(413, ProblemType.payloadTooLarge, 'The request body is too large', { detail: e.message });
    if (status < 500) return new Problem(status, ProblemType.validation, 'The request does not match the contract', { detail: e.message, errors });
  }
  return new Problem(500, ProblemType.internal, 'Internal error', { detail: 'the gateway failed while serving this request; the log has the details under this request id', cause: err });
}

export function sendProblem(res: Response, problem: Problem): void {
  const requestId = res.locals.requestId as string | undefined;
  res.locals.problem = problem;
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  // Every 503 tells the caller when to try again (RFC 9110 §10.2.3), even where its maker did not.
  if (problem.status === 503 && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem.toBody(requestId, res.req.originalUrl)));
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const problem = toProblem(err);
    if (problem.status === 499 || req.socket.destroyed) {
      // The caller is gone: nothing to answer, nothing failed. The request log line says 499, aborted.
      return;
    }
    if (problem.status >= 500 && problem.typeName === ProblemType.internal) {
      logger.error({ err, requestId: res.locals.requestId }, 'unhandled error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  };
}
