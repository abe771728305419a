/**
 * What an sftp failure is to the caller, the same for reads and writes: a host key that does not
 * match (502, not retried), credentials the server refused (502 `upstream-credentials`, not
 * retried), a lost connection (503, retryable), anything else as the caller says.
 */
import { UpstreamError } from '../../problem.ts';
import { HostKeyError } from './known-hosts.ts';
import { ConnectionLost } from './sftp-pool.ts';

/** Whether the server refused the gateway's user, password or key (ssh2's client-authentication level, under the pool's wrapping). */
export function refusedCredentials(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) {
    if ((e as { level?: unknown }).level === 'client-authentication') return true;
  }
  return false;
}

export function sftpFailure(what: string, err: unknown, otherwise: { status: 502 | 503; code: string }): UpstreamError {
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof HostKeyError) return new UpstreamError(err.message, { status: 502, retryable: false, code: 'sftp_host_key' });
  if (refusedCredentials(err)) return new UpstreamError(message, { credentials: true, code: 'sftp_auth' });
  if (err instanceof ConnectionLost) return new UpstreamError(message, { status: 503, code: 'sftp_connection' });
  return new UpstreamError(message, otherwise);
}
