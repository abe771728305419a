/** JSON logs (pino), one line per request, with the request id and the operation. */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * A URL as it may be logged: the path and the query's parameter names, never their values (a query
 * carries names, emails and account numbers: `/accounts?name=[redacted]`).
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq === -1 ? part : `${part.slice(0, eq)}=[redacted]`;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

/** Every log line's `path` and `url` fields lose their query values, whoever logs them. */
function redactLine(obj: Record<string, unknown>): Record<string, unknown> {
  if (typeof obj.path === 'string' && obj.path.includes('?')) obj = { ...obj, path: redactQuery(obj.path) };
  if (typeof obj.url === 'string' && obj.url.includes('?')) obj = { ...obj, url: redactQuery(obj.url) };
  return obj;
}

/** Log lines are written in batches of about this many bytes... */
export const LOG_BATCH_BYTES = 2048;
/** ...and at the latest this long after they were logged. */
export const LOG_FLUSH_MS = 100;

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  const options = {
    name: opts.name ?? 'ficus',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
    formatters: { log: redactLine },
  };
  // Asynchronous writes to stdout: a log line never blocks a request on a slow terminal or pipe.
  // Lines are gathered into writes of about 2 KiB (under PIPE_BUF, so that the workers of a cluster
  // sharing one pipe never split each other's lines), written at the latest every 100 ms: one
  // write per request cost more CPU than the rest of the log line. Flushed on exit and on close().
  return pino(options, opts.destination ?? pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }));
}
