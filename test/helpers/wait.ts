/**
 * Waiting for an event in tests: `eventually` retries a check until it holds, through vitest's own
 * `vi.waitFor`, bounded by a limit generous enough for a loaded 2-core machine (a bound, not a
 * budget: on a quiet machine the wait ends as soon as the check holds).
 */
import { vi } from 'vitest';

/** The default bound of `eventually`: well beyond any event a test waits for, even under load. */
export const EVENTUALLY_TIMEOUT_MS = 30_000;

/**
 * Retries `fn` (every `intervalMs`) until it returns something truthy, and returns that; fails after
 * `timeoutMs` naming `what` (and the last error `fn` threw, if it threw).
 */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = EVENTUALLY_TIMEOUT_MS,
  what = 'the condition',
  intervalMs = 25,
): Promise<T> {
  try {
    return await vi.waitFor(
      async () => {
        const v = await fn();
        if (!v) throw new Error(`not yet: ${what}`);
        return v;
      },
      { timeout: timeoutMs, interval: intervalMs },
    );
  } catch (err) {
    const last = err instanceof Error ? err.message : String(err);
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last.startsWith('not yet: ') ? '' : ` (last: ${last})`}`, { cause: err });
  }
}

/** Resolves as `p` does (an event the test waits for), or fails after `timeoutMs` naming `what`. */
export function within<T>(p: Promise<T>, timeoutMs = EVENTUALLY_TIMEOUT_MS, what = 'the event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
