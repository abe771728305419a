/** Turns any error into an RFC 9457 problem response; knows the errors of Express and body-parser. */
import type { ErrorRequestHandler } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, Problem, RETRY_AFTER_SECONDS } from '../problem.ts';

/** What body-parser (and the zlib errors it passes on) put on the errors it raises. */
interface BodyParserError {
  code?: string;
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
}

export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  const e = (err ?? {}) as BodyParserError;
  const status = e.status ?? e.statusCode;
  if (e.type === 'entity.parse.failed') {
    return new Problem(PROBLEMS.malformedJson, { detail: e.message });
  }
  if (e.type === 'entity.too.large') {
    return new Problem(PROBLEMS.payloadTooLarge, { detail: e.message });
  }
  if (e.type === 'request.aborted') {
    // 499 (as nginx says it): nobody is left to read this; the request log says so, at info level.
    return new Problem(PROBLEMS.clientClosedRequest, { detail: 'the caller went away before sending its whole body' });
  }
  if (e.type === 'request.size.invalid') {
    return new Problem(PROBLEMS.validation, {
      detail: `the request body is incomplete: ${e.message ?? 'request size did not match content length'}`,
      errors: [{ field: 'body', message: e.message ?? 'request size did not match content length' }],
    });
  }
  if (typeof e.code === 'string' && e.code.startsWith('Z_') && status === 400) {
    // zlib's errors: a body sent with content-encoding gzip/deflate/br that does not decompress.
    return new Problem(PROBLEMS.malformedJson, { detail: `the body does not decompress as its content-encoding says (gzip, deflate or br): ${e.message ?? e.code}` });
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new Problem(PROBLEMS.unsupportedMediaType, { detail: e.message });
  }
  return new Problem(PROBLEMS.internal, { detail: 'the gateway failed while serving this request; the log has the details under this request id', cause: err });
}

/** A response as the gateway writes it: node's own, with the request's facts for the log line and the hooks in `locals` (as Express also has it). */
export interface GatewayResponse extends ServerResponse {
  locals: Record<string, unknown>;
}

export function sendProblem(res: GatewayResponse, problem: Problem): void {
  const requestId = res.locals.requestId as string | undefined;
  res.locals.problem = problem;
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  // Every 503 tells the caller when to try again (RFC 9110 §10.2.3), even where its maker did not.
  if (problem.status === 503 && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  // The path only: the query may carry a credential (an API key), which a problem never echoes.
  const req = res.req as IncomingMessage & { originalUrl?: string };
  const body = JSON.stringify(problem.toBody(requestId, (req.originalUrl ?? req.url ?? '/').split('?', 1)[0]));
  res.statusCode = problem.status;
  res.setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answers an error with its problem (nothing where the caller is gone); the log has what failed inside the gateway. */
export function answerError(logger: Logger): (err: unknown, req: IncomingMessage, res: GatewayResponse) => void {
  return (err, req, res) => {
    const problem = toProblem(err);
    if (problem.status === 499 || req.socket.destroyed) {
      // The caller is gone: nothing to answer, nothing failed. The request log line says 499, aborted.
      return;
    }
    if (problem.status >= 500 && problem.typeName === PROBLEMS.internal.type) {
      logger.error({ err, requestId: res.locals.requestId }, 'unhandled error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  };
}

/** The same as Express's error handler (the admin side and the public side's few Express paths). */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  const answer = answerError(logger);
  return (err: unknown, req, res, _next) => answer(err, req, res);
}
