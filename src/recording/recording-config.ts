/**
 * The `recording:` section of ficus.yaml: which routes are recorded (off by default) and at what
 * sampling rate, what is redacted besides what the contract marks, and how files roll.
 */
import { z } from 'zod';
import { parsePath } from '../compare/json-path.ts';

const SIZE = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)$/i;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  return m ? Math.round(Number(m[1]) * UNIT[m[2].toLowerCase()]) : undefined;
}

export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Math.round(Number(m[1]) * UNIT[m[2]]) : undefined;
}

/** A JSON path into an exchange: `$.request.body.x`, `$.response.body.items[*].phone`, `$.request.query.ssn`. */
export const exchangePathSchema = z.string().superRefine((p, ctx) => {
  try {
    parsePath(p);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return;
  }
  if (!/^\$\.(request|response)\b/.test(p.trim())) ctx.addIssue({ code: 'custom', message: `"${p}" must start with $.request or $.response (e.g. $.response.body.items[*].phone)` });
});

const sample = z.number().min(0, 'a rate from 0 to 1 (0.1 is one call in ten)').max(1, 'a rate from 0 to 1 (0.1 is one call in ten)');

export const recordingRouteSchema = z
  .object({
    /** Share of calls recorded, 0 to 1. */
    sample: sample.default(1),
    /** Exchange paths redacted for this operation only. */
    redact: z.array(exchangePathSchema).default([]),
  })
  .strict();

export const recordingConfigSchema = z
  .object({
    /** Where recordings go: `<dir>/<operationId>/*.jsonl`, relative to the project root. */
    dir: z.string().default('recordings'),
    /** Routes recorded from start-up; every other route is off until the admin API turns it on. */
    routes: z.record(z.string(), recordingRouteSchema).default({}),
    /** Exchange paths redacted for every operation. */
    redact: z.array(exchangePathSchema).default([]),
    /** Request headers kept besides Accept, Content-Type, Accept-Language and the contract's header parameters. */
    headers: z.array(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name')).default([]),
    /** A file rolls when it reaches this size (e.g. 10mb). */
    maxFileSize: z.string().refine((s) => parseSize(s) !== undefined, 'a size such as 512kb or 10mb').default('10mb'),
    /** ... or when it is this old (e.g. 1h). */
    rollEvery: z.string().refine((s) => parseDurationMs(s) !== undefined, 'a duration such as 30m or 1h').default('1h'),
    /** Exchanges waiting to be written; past this, new ones are dropped and counted. */
    queueLimit: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict();

export type RecordingConfig = z.infer<typeof recordingConfigSchema>;
