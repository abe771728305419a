/**
 * The `recording:` section of ficus.yaml: which routes are recorded (off by default) and at what
 * sampling rate, what is redacted besides what the contract marks, and how files roll.
 */
import { z } from 'zod';
import { parsePath } from '../compare/json-path.ts';

import { durationMs, sizeBytes } from '../config/units.ts';
import { recordWhenSchema } from './record-filter.ts';

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
    /** Which calls are kept: by path pattern, consumer, status and request header (src/recording/record-filter.ts). */
    when: recordWhenSchema.optional(),
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
    maxFileSize: sizeBytes.prefault('10MiB'),
    /** ... or when it is this old (e.g. 1h). */
    rollEvery: durationMs.prefault('1h'),
    /** The whole folder is kept under this size: the oldest files go first (e.g. 1GiB); unset: no limit. */
    maxTotalSize: sizeBytes.optional(),
    /** Files older than this are deleted (e.g. 30d); unset: kept. */
    maxAge: durationMs.optional(),
    /** Exchanges waiting to be written; past this, new ones are dropped and counted. */
    queueLimit: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict();

export type RecordingConfig = z.infer<typeof recordingConfigSchema>;
