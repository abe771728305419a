/**
 * `changes:` of an adapter file: the change feeds of one legacy system, each checked by the schema of
 * its kind (db: a keyset query on a version since a watermark; sftp: each new export compared with
 * the previous one). Nothing in the legacy system changes: the feed only reads.
 */
import { z } from 'zod';
import { durationMs } from '../config/units.ts';

const column = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name');
const eventType = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a dotted name such as customer.updated');

const common = {
  /** The contract operation whose mapping turns a row (record) into the resource: a get, e.g. getCustomer. */
  operation: z.string().min(1),
  /** CloudEvents `type` of a change, and of a removal. */
  type: eventType,
  deletedType: eventType.optional(),
  pollInterval: durationMs.default(1_000),
};

export const dbFeedSchema = z
  .object({
    ...common,
    /** A .sql file in the adapter's folder: one SELECT of every row (no ORDER BY); Ficus adds the keyset. */
    sql: z.string().regex(/\.sql$/i, 'a .sql file'),
    /** The column that identifies a row: the event's subject and ordering key. */
    key: column,
    /**
     * What says a row changed, in order: a last-updated column pair (`[LAST_UPD_DT, LAST_UPD_TM]`) or
     * one column (a rowversion, a timestamp number).
     */
    version: z.array(column).min(1).max(2),
    /**
     * How the version reads: yyyymmdd-hhmmss (a date and a time column, UTC), number (one
     * ever-growing number: a rowversion or epoch seconds) .
     */
    versionAs: z.enum(['yyyymmdd-hhmmss', 'number']).default('number'),
    /**
     * Each poll reads again the rows whose version is within this much of the watermark, so a row
     * written while the legacy clock went backwards is still seen (rows already sent are recognised
     * by their hash). A duration; for versionAs: number, a plain number of the version's units.
     */
    overlap: durationMs.default(0),
    /** Rows read per statement. */
    batchSize: z.coerce.number().int().min(1).max(50_000).default(1_000),
    /** Every so often, every key is read and hashed: finds deletes and changes that bypassed the version. */
    sweep: durationMs.optional(),
    /** Where a new feed starts: now (the current rows are the baseline, send nothing) or beginning (send every row). */
    start: z.enum(['now', 'beginning']).default('now'),
    /**
     * Backpressure: events of this feed queued in the outbox and not yet delivered, at most (plus one
     * page). Past it the feed reads no more rows until delivery catches up; they wait in the legacy
     * database, nothing is lost. 0: no bound.
     */
    maxBacklog: z.coerce.number().int().min(0).default(10_000),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.versionAs === 'yyyymmdd-hhmmss' && f.version.length !== 2)
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'versionAs: yyyymmdd-hhmmss needs two columns: [date column, time column]' });
    if (f.versionAs === 'number' && f.version.length !== 1) ctx.addIssue({ code: 'custom', path: ['version'], message: 'versionAs: number needs one column' });
  });
export type DbFeedConfig = z.infer<typeof dbFeedSchema>;

/**
 * An sftp feed: each new export file (the newest complete file of the named read operation's folder
 * and pattern) compared key by key with what the feed last sent of the previous one: records added,
 * changed and removed become events. The operation's `read:` (layout, record, key) and `map:` make
 * the event's data, as the gateway serves that operation.
 */
export const sftpFeedSchema = z
  .object({
    ...common,
    pollInterval: durationMs.default(30_000),
    /** CloudEvents `type` of a key the feed never sent before (default: `type`). */
    createdType: eventType.optional(),
    /** Records per state-store transaction. */
    batchSize: z.coerce.number().int().min(1).max(50_000).default(1_000),
    /**
     * Records of one file that may be quarantined (a record the layout cannot read); a file with
     * more is refused whole (likely the wrong layout) and the feed waits for the next one.
     */
    maxBadRecords: z.coerce.number().int().min(0).default(100),
    /** Where a new feed starts: now (the newest file is the baseline, send nothing) or beginning (send every record of it). */
    start: z.enum(['now', 'beginning']).default('now'),
  })
  .strict();
export type SftpFeedConfig = z.infer<typeof sftpFeedSchema>;

/** The schema of a feed of an adapter of this kind, or undefined when the kind has no change feeds. */
export function feedSchemaOf(kind: string): typeof dbFeedSchema | typeof sftpFeedSchema | undefined {
  return kind === 'db' ? dbFeedSchema : kind === 'sftp' ? sftpFeedSchema : undefined;
}
