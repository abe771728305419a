/**
 * What a driver's error means for the caller: the database cannot be reached (503, retried), the
 * statement ran past its timeout (504, not retried: it would only load the database more), or the
 * database refused the statement (502, not retried), or the database refused the gateway's credentials
 * (502 `upstream-credentials`, not retried, as in every kind). The policy turns these into problems.
 */
import { UpstreamError } from '../../problem.ts';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOENT',
  // pg: admin shutdown, crash shutdown, cannot connect now, too many connections
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ECONNABORTED',
  // mssql / tedious
  'ESOCKET',
  'ECONNCLOSED',
  'ENOTOPEN',
  'EINSTLOOKUP',
  'ELOGIN',
  'EPOOLFULL',
  // SQLite
  'SQLITE_CANTOPEN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
]);
const TIMEOUT_CODES = new Set(['57014', 'ER_STATEMENT_TIMEOUT', 'ER_QUERY_TIMEOUT', 'SQLITE_INTERRUPT']);
const AUTH_CODES = new Set(['28P01', '28000', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ELOGIN']);

export function classifyDbError(err: unknown, where: string): unknown {
  if (!(err instanceof Error)) return new UpstreamError(`${where}: ${String(err)}`, { retryable: false, code: 'db_error' });
  if (err instanceof UpstreamError || err.name === 'AbortError' || err.name === 'TaskCancelledError') return err;
  const e = err as Error & { code?: unknown; errno?: unknown; number?: unknown; sqlState?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.code === 'number' ? String(e.code) : '';
  const message = err.message.split('\n')[0];
  // tedious: the request timeout (RequestError ETIMEOUT) vs the connect timeout (ConnectionError ETIMEOUT).
  const isConnectionError = err.name === 'ConnectionError';
  if (code === 'ETIMEOUT' && !isConnectionError) {
    return new UpstreamError(`${where}: the statement ran past its timeout (${message})`, { status: 504, retryable: false, code: 'statement_timeout', cause: err });
  }
  if (TIMEOUT_CODES.has(code) || e.errno === 1969 || e.errno === 3024) {
    return new UpstreamError(`${where}: the statement ran past its timeout (${message})`, { status: 504, retryable: false, code: 'statement_timeout', cause: err });
  }
  if (AUTH_CODES.has(code) && !(code === 'ELOGIN' && /connect|socket/i.test(message))) {
    return new UpstreamError(`${where}: the database refused the gateway's credentials (${message})`, { credentials: true, code: 'db_auth', cause: err });
  }
  if (UNREACHABLE_CODES.has(code) || isConnectionError || /timeout exceeded when trying to connect|Connection terminated|connect ETIMEDOUT/i.test(message) || code.startsWith('08')) {
    return new UpstreamError(`${where}: the database cannot be reached (${code || message})`, { status: 503, retryable: true, code: code || 'db_unreachable', cause: err });
  }
  return new UpstreamError(`${where}: the database refused the statement (${code ? `${code}: ` : ''}${message})`, { status: 502, retryable: false, code: code || 'db_error', cause: err });
}
