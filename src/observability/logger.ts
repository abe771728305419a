/** JSON logs (pino), one line per request, with the request id and the operation. */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  const options = {
    name: opts.name ?? 'ficus',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
  };
  // Asynchronous writes to stdout: a log line never blocks a request on a slow terminal or pipe;
  // lines written while one write is in flight are coalesced. close() flushes.
  return pino(options, opts.destination ?? pino.destination({ dest: 1, sync: false, minLength: 0 }));
}
