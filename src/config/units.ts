/**
 * The one grammar for durations and sizes anywhere in Ficus's config, admin API and CLI, parsed by
 * the schema (a zod transform), so that nothing parses them again later.
 *
 * - Duration: a number and a unit, `500ms`, `30s`, `5m`, `1.5h`, `7d`; a number alone is seconds.
 * - Size: a number and a unit, `512B`, `100kB`/`100KB` (1,000), `10MB`, `2GB`, `1TB`, `64KiB` (1,024),
 *   `10MiB`, `2GiB`, `1TiB` (units in any case); a number alone is bytes.
 */
import { z } from 'zod';

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;
const SIZE_UNIT: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$/i;

export const DURATION_HELP = 'a duration such as 500ms, 30s, 5m, 1h or 7d (a number alone is seconds)';
export const SIZE_HELP = 'a size such as 512kB, 10MB, 2GiB (kB, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024; a number alone is bytes)';

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  return m ? Math.round(Number(m[1]) * DURATION_UNIT_MS[m[2] ?? 's']) : undefined;
}

/** Bytes, or undefined when the text is not a size. */
export function parseSizeBytes(text: string): number | undefined {
  const m = SIZE.exec(text);
  return m ? Math.floor(Number(m[1]) * SIZE_UNIT[(m[2] ?? 'b').toLowerCase()]) : undefined;
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 86_400_000) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0 && ms >= 1_000) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
    ['GB', 1e9],
    ['MB', 1e6],
    ['kB', 1e3],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes} bytes`;
}

/** A duration in config: text or a number of seconds → milliseconds. */
export const durationMs = z.union([z.number().min(0), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? Math.round(v * 1000) : parseDurationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: DURATION_HELP });
    return z.NEVER;
  }
  return ms;
});

/** A size in config: text or a number of bytes → bytes. */
export const sizeBytes = z.union([z.number().int().min(0), z.string()]).transform((v, ctx) => {
  const bytes = typeof v === 'number' ? v : parseSizeBytes(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: SIZE_HELP });
    return z.NEVER;
  }
  return bytes;
});
