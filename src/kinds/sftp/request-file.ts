/**
 * The order file of a request binding: the orders encoded as records of one inbound file (header,
 * one record per order, trailer), its name from the binding's template, and its publication in the
 * inbound folder under a temporary name then renamed, so the legacy job never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import { FieldError } from '../../records/errors.ts';
import type { RecordFileSpec } from '../../records/layout-file.ts';
import { RecordFileWriter } from '../../records/record-file.ts';
import { toRecord, type FieldMap } from './field-map.ts';
import { sftpFailure } from './sftp-failures.ts';
import type { SftpPool } from './sftp-pool.ts';

/** What the order file is made of: the request side of a request binding. */
export interface RequestFileConfig {
  spec: RecordFileSpec;
  record: string;
  /** File-name template with `{fileId}` (and `{date}`, `{time}`). */
  file: string;
  header: Record<string, string>;
  trailer: Record<string, string>;
  id: { field: string; record: string; prefix: string; length: number; header: string };
  map: FieldMap;
  /** For batch operations: the array of the request body holding the items. */
  batchItems?: string;
}

export interface OrderFile {
  /** The file's name in the inbound folder. */
  name: string;
  /** The file's bytes; empty when a single order was refused (nothing is to be written). */
  data: Buffer;
  /** Orders (by index) that cannot be written in the record format, with the reasons. */
  refused: Map<number, string[]>;
}

function fillTemplate(t: string, vars: Record<string, string>): string {
  return t.replace(/\{(\w+)\}/g, (_m, k: string) => vars[k] ?? '');
}

/**
 * Encodes the orders (`ids[i]` the id of `items[i]`) into the file `fileId`. An order that cannot
 * be encoded is refused, not written; a single (not batch) order refused ends the encoding there.
 */
export function encodeOrderFile(c: RequestFileConfig, items: Record<string, unknown>[], ids: string[], fileId: string, now: string): OrderFile {
  const writer = new RecordFileWriter(c.spec);
  const vars = { fileId, date: now.slice(0, 10), time: now.slice(11, 19).replace(/:/g, '') };
  const name = fillTemplate(c.file, vars);
  const chunks: Buffer[] = [];
  const refused = new Map<number, string[]>();
  const fill = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, /^\{time\}$/.test(v) ? Number(vars.time) : fillTemplate(v, vars)]));
  if (c.spec.types.some((t) => t.role === 'header')) chunks.push(writer.record(c.spec.types.find((t) => t.role === 'header')!.name, fill(c.header)));
  items.forEach((item, i) => {
    const rec = { ...toRecord(item, c.map), [c.id.record]: ids[i] };
    try {
      chunks.push(writer.record(c.record, rec));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      refused.set(i, [`${fieldOfRecord(err.field, c.map)}: ${err.reason.replace(/^record \d+ \(\w+\): /, '')}`]);
    }
  });
  if (!c.batchItems && refused.size > 0) return { name, data: Buffer.alloc(0), refused };
  if (c.spec.types.some((t) => t.role === 'trailer')) chunks.push(writer.record(c.spec.types.find((t) => t.role === 'trailer')!.name, fill(c.trailer)));
  chunks.push(writer.end()); // the last block of a blocked (RECFM=VB) file
  return { name, data: Buffer.concat(chunks), refused };
}

/**
 * Writes under a temporary name and renames, so the legacy job never sees half a file. The
 * temporary name is this attempt's own: two writes of the same file may overlap (a call its
 * caller gave up on still runs while the outbox or a retry delivers the order again, or another
 * instance does), and with a shared name the second write would open (and truncate) the very file
 * the first one is renaming into place, publishing it half-written.
 */
export async function writeOrderFile(pool: SftpPool, dir: string, name: string, data: Buffer, signal: AbortSignal): Promise<void> {
  try {
    await pool.use(
      async (s) => {
        const temp = `${dir}/${name}.${randomBytes(6).toString('hex')}.part`;
        await s.write(temp, data);
        try {
          await s.rename(temp, `${dir}/${name}`);
        } catch (err) {
          // The same file is there already (a redelivery while the job has not picked up the first).
          if (await s.exists(`${dir}/${name}`)) {
            await s.remove(temp).catch(() => undefined);
            return;
          }
          await s.remove(temp).catch(() => undefined);
          throw err;
        }
      },
      { idempotent: true, signal },
    );
  } catch (err) {
    throw sftpFailure(`${pool.where}: writing ${name} failed`, err, { status: 502, code: 'sftp_write' });
  }
}

/** A record field path back to the contract field it was mapped from, for error messages. */
function fieldOfRecord(recordPath: string, map: FieldMap, prefix = ''): string {
  const [head, ...rest] = recordPath.split('.');
  const bare = head.replace(/\[\d+\]$/, '');
  const index = /\[(\d+)\]$/.exec(head)?.[1];
  for (const [k, spec] of Object.entries(map)) {
    const field = typeof spec === 'string' ? spec : spec.field;
    if (field.split('.')[0] !== bare) continue;
    const here = `${prefix}${k}${index !== undefined ? `[${index}]` : ''}`;
    if (typeof spec !== 'string' && spec.items && rest.length > 0) return fieldOfRecord(rest.join('.'), spec.items, `${here}.`);
    return here;
  }
  return recordPath;
}
