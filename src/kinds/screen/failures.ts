/**
 * What a failed flow means for the caller: the screen's own answers (not found, refused) become
 * 404 and 422 problems; the gateway's credentials being refused is a 502 that says so; a screen
 * that does not answer is a 504; a browser that went away is a 502 that may be retried; a screen
 * that no longer looks as the flow expects is a 502 that is not retried.
 */
import { errors as playwrightErrors } from 'playwright-core';
import { PROBLEMS, Problem, UpstreamError } from '../../problem.ts';
import { MappingError } from './output-mapping.ts';
import { PoolClosed } from './browser-pool.ts';
import { QueueFull, QueueTimeout, QueueTooSlow } from './permits.ts';
import {
  LegacyLoginRefused,
  ScreenChanged,
  ScreenInputRefused,
  ScreenNotFound,
  ScreenRefused,
  SessionExpired,
  inputRefusedProblem,
  loginRefusedProblem,
  notFoundProblem,
  refusedProblem,
} from './screen-errors.ts';

const BROWSER_GONE = /has been closed|Target closed|browser has disconnected|Browser closed|Connection closed|crashed/i;
const UNREACHABLE = /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|ADDRESS_UNREACHABLE|EMPTY_RESPONSE|CONNECTION_CLOSED)/;

export interface FailureContext {
  adapter: string;
  operation: string;
  /** Which variables hold the gateway's legacy credentials, for the 502 that says they are wrong. */
  credentialsHint: string;
  /** The request field a value the flow types came from, for the 422 that refuses it. */
  fieldOf?: (value: string) => string | undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

export function toFailure(err: unknown, ctx: FailureContext): Problem | UpstreamError {
  const where = `${ctx.adapter} (${ctx.operation})`;
  if (err instanceof Problem || err instanceof UpstreamError) return err;
  if (err instanceof ScreenNotFound) return notFoundProblem(ctx.adapter, err.words);
  if (err instanceof ScreenRefused) return refusedProblem(ctx.adapter, err);
  if (err instanceof ScreenInputRefused) return inputRefusedProblem(ctx.adapter, err);
  if (err instanceof LegacyLoginRefused) return loginRefusedProblem(ctx.adapter, err.words, ctx.credentialsHint);
  if (err instanceof QueueFull || err instanceof QueueTimeout || err instanceof QueueTooSlow) {
    return new Problem(PROBLEMS.overloaded, { detail: `${where}: ${err.message}`, headers: { 'Retry-After': '1' } });
  }
  if (err instanceof PoolClosed) return new UpstreamError(`${where}: the gateway is shutting down`, { status: 503, retryable: false, code: 'pool_closed' });
  if (err instanceof SessionExpired) return new UpstreamError(`${where}: the legacy app ended the session again right after signing on`, { code: 'session_lost' });
  if (err instanceof ScreenChanged) return new UpstreamError(`${where}: the screen is not as the flow expects: ${err.message}`, { retryable: false, code: 'screen_changed' });
  if (err instanceof MappingError) return new UpstreamError(`${where}: ${err.message}`, { retryable: false, code: 'screen_value' });
  if (err instanceof playwrightErrors.TimeoutError) return new UpstreamError(`${where}: the legacy screen did not answer in time: ${firstLine(err.message)}`, { status: 504, code: 'screen_timeout' });
  const message = err instanceof Error ? err.message : String(err);
  if (UNREACHABLE.test(message)) return new UpstreamError(`${where}: the legacy web app cannot be reached: ${firstLine(message)}`, { status: 503, code: 'legacy_unreachable' });
  if (BROWSER_GONE.test(message)) return new UpstreamError(`${where}: the browser went away during the flow: ${firstLine(message)}`, { code: 'browser_gone' });
  return new UpstreamError(`${where}: the flow failed: ${firstLine(message)}`, { code: 'flow_failed' });
}
