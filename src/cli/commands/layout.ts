/**
 * `ficus layout decode|encode`: fixed-width record files to JSON Lines and back, with a layout file
 * (YAML, see src/records/layout-file.ts) or a bare COBOL copybook.
 *
 *   ficus layout decode --layout products.yaml PRODUCTS.DAT          one JSON line per record on stdout
 *   ficus layout decode --layout orders.cpy --record orderRecord F.DAT  one 01 record of a copybook
 *   ficus layout encode --layout products.yaml -o OUT.DAT rows.jsonl  bytes from JSON lines
 *
 * Bad records are reported on stderr with their record number, byte offset, field and reason (as
 * JSON lines with --errors json); the good ones are still written. The exit code is 1 when any
 * record was bad, 2 on bad usage (an unknown option, a layout with mistakes) or when a file could not
 * be read to its end.
 */
import type { Command } from 'commander';
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { CliExit, EXIT } from '../admin-client.ts';
import { describeProblem, FieldError, RecordFileError, type RecordProblem } from '../../records/errors.ts';
import { loadRecordFileSpec, LayoutFileError, type Delimiter } from '../../records/layout-file.ts';
import { decodeRecordStream, RecordFileWriter, type FileSummary } from '../../records/record-file.ts';

interface CommonOptions {
  layout: string;
  encoding?: string;
  delimiter?: Delimiter;
  /** The 01 level of a bare copybook that has several. */
  record?: string;
  errors: 'text' | 'json';
}

/** The layout, or a CliExit (bad usage) naming the file, key and fix. */
function specOf(opts: CommonOptions) {
  const bare = !/\.ya?ml$/i.test(opts.layout);
  if (opts.record !== undefined && !bare)
    throw new CliExit(
      EXIT.usage,
      `${opts.layout}: --record: chooses the 01 level of a bare copybook (.cpy), not of a layout file\n  fix: drop --record; a layout file names its copybook's record with record: <name>`,
    );
  try {
    return loadRecordFileSpec(opts.layout, { encoding: opts.encoding, delimiter: opts.delimiter, record: opts.record });
  } catch (err) {
    if (!(err instanceof LayoutFileError)) throw err;
    // A bare copybook's 01 level is chosen on the command line, with --record (a layout file says record:).
    if (bare && err.key === 'record') throw new CliExit(EXIT.usage, `${err.file}: --record: ${err.problem}\n  fix: ${err.fix.replace('record: <name>', '--record <name>')}`);
    throw new CliExit(EXIT.usage, err.message);
  }
}

function reportProblem(p: RecordProblem, mode: 'text' | 'json', err: Writable): void {
  err.write(mode === 'json' ? JSON.stringify({ error: p.reason, recordNo: p.recordNo, offset: p.offset, recordType: p.recordType, field: p.field }) + '\n' : `bad ${describeProblem(p)}\n`);
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export async function decodeCommand(file: string, opts: CommonOptions & { meta: boolean }, io: { stdout: Writable; stderr: Writable; stdin: Readable }): Promise<number> {
  const spec = specOf(opts);
  const source = file === '-' ? io.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
  const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
  try {
    for await (const batch of decodeRecordStream(source, spec, summary)) {
      let text = '';
      for (const r of batch.rows)
        text += JSON.stringify(opts.meta ? { recordNo: r.recordNo, offset: r.offset, type: r.type, data: r.value } : spec.types.length > 1 ? { type: r.type, ...r.value } : r.value) + '\n';
      if (text) await write(io.stdout, text);
      for (const p of batch.problems) reportProblem(p, opts.errors, io.stderr);
    }
  } catch (err) {
    if (err instanceof RecordFileError) {
      io.stderr.write(`${file}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const trailerProblems = summary.records > 0 && !summary.complete;
  io.stderr.write(
    `${file}: ${summary.records} records, ${summary.good} good, ${summary.bad} bad${spec.types.some((t) => t.role === 'trailer') ? `; trailer ${summary.complete ? 'checks out' : 'does not check out'}` : ''}\n`,
  );
  return summary.bad > 0 || trailerProblems ? 1 : 0;
}

export async function encodeCommand(file: string, opts: CommonOptions & { output: string }, io: { stderr: Writable; stdin: Readable }): Promise<number> {
  const spec = specOf(opts);
  const writer = new RecordFileWriter(spec);
  const input = file === '-' ? io.stdin : createReadStream(file);
  const temp = `${opts.output}.part`;
  const out = createWriteStream(temp);
  let lineNo = 0;
  let bad = 0;
  const single = spec.types.length === 1 ? spec.types[0].name : undefined;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      if (!line.trim()) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        bad++;
        io.stderr.write(`bad line ${lineNo}: not JSON (${(err as Error).message})\n`);
        continue;
      }
      const data = (row.data && typeof row.data === 'object' ? row.data : row) as Record<string, unknown>;
      const type = typeof row.type === 'string' ? row.type : single;
      if (!type) {
        bad++;
        io.stderr.write(`bad line ${lineNo}: no "type" (the layout has ${spec.types.map((t) => t.name).join(', ')})\n`);
        continue;
      }
      const { type: _t, ...value } = data;
      try {
        const bytes = writer.record(type, value);
        if (!out.write(bytes)) await once(out, 'drain');
      } catch (err) {
        bad++;
        const detail = err instanceof FieldError ? `field ${err.field}: ${err.reason.replace(/^record \d+ \([^)]*\): /, '')}` : (err as Error).message;
        io.stderr.write(`bad line ${lineNo}: ${detail}\n`);
      }
    }
    out.end();
    await once(out, 'close');
    renameSync(temp, opts.output);
  } catch (err) {
    out.destroy();
    rmSync(temp, { force: true });
    throw err;
  }
  for (const w of writer.warnings) io.stderr.write(`warning: ${w}\n`);
  io.stderr.write(`${opts.output}: ${lineNo - bad} records written, ${bad} bad\n`);
  return bad > 0 ? 1 : 0;
}

/** Runs a command to its exit code; a CliExit becomes `ficus layout: message` on stderr and its code. */
function exitWith<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (err) {
      if (!(err instanceof CliExit)) throw err;
      process.stderr.write(`ficus layout: ${err.message}\n`);
      process.exitCode = err.code;
    }
  };
}

export function register(program: Command): void {
  const layout = program.command('layout').description('decode and encode fixed-width record files (COBOL copybooks, EBCDIC, packed decimals)');
  const common = (c: Command) =>
    c
      .requiredOption('-l, --layout <file>', 'layout file (.yaml) or COBOL copybook (.cpy)')
      .option('-e, --encoding <codepage>', 'code page, overriding the layout (cp037 cp500 cp1047 cp1140 cp273 cp1252 cp437 cp850 latin1 ascii)')
      .option('-d, --delimiter <delimiter>', 'record delimiter, overriding the layout: none | lf | crlf | rdw')
      .option('--record <name>', 'the 01 level to use, when a bare copybook has several (e.g. orderRecord)')
      .option('--errors <format>', 'how bad records are reported on stderr: text | json', 'text');
  common(
    layout
      .command('decode')
      .description('print the records of files as JSON Lines')
      .argument('<files...>', 'the record files (- for stdin)')
      .option('--meta', 'wrap each record with its record number, byte offset and type', false),
  ).action(
    exitWith(async (files: string[], opts: CommonOptions & { meta: boolean }) => {
      // Every file in turn (a shell pattern such as PRODUCTS.*.DAT gives several); the worst exit code.
      let code = 0;
      for (const file of files) code = Math.max(code, await decodeCommand(file, opts, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }));
      return code;
    }),
  );
  common(
    layout
      .command('encode')
      .description('write a record file from JSON Lines (as decode prints them)')
      .argument('<file>', 'JSON Lines (- for stdin)')
      .requiredOption('-o, --output <file>', 'the record file to write'),
  ).action(exitWith(async (file: string, opts: CommonOptions & { output: string }) => encodeCommand(file, opts, { stderr: process.stderr, stdin: process.stdin })));
}
