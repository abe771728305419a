/** `ficus layout decode|encode`, run as a user runs it (bin/ficus.js in a child process). */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeProductExport } from '../../sample/mainframe/product-export.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { decodeCommand, encodeCommand } from '../../src/cli/commands/layout.ts';
import { Writable } from 'node:stream';
import { CliExit } from '../../src/cli/admin-client.ts';

const run = promisify(execFile);
const FICUS = join(PROJECT_ROOT, 'bin/ficus.js');
const LAYOUT = join(PROJECT_ROOT, 'adapters/mainframe-files/layouts/products.yaml');

/** The same commands in this process (quicker than a child process): `decodeCommand`/`encodeCommand` with captured output. */
async function inProcess(cmd: 'decode' | 'encode', file: string, opts: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        append(chunk.toString('utf8'));
        cb();
      },
    });
  const io = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), stdin: process.stdin };
  const common = { errors: 'text', ...opts } as never;
  const code = cmd === 'decode' ? await decodeCommand(file, { meta: false, ...(common as object) } as never, io) : await encodeCommand(file, common, io);
  return { code, stdout, stderr };
}

/**
 * The real command with the reading end of its stdout or stderr closed at once, as `| head` does once
 * it has its lines: how the command ends and what else it said.
 */
function ficusIntoClosedPipe(args: string[], closed: 'stdout' | 'stderr'): Promise<{ code: number | null; signal: string | null; said: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FICUS, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child[closed].destroy(); // before the command (still loading) can write a byte
    let said = '';
    child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (d: Buffer) => (said += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, said });
    });
  });
}

async function ficus(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [FICUS, ...args], { cwd: PROJECT_ROOT });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ficus layout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-layout-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'PRODUCTS.DAT');
  const bytes = encodeProductExport(sampleCatalogue(4), new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), 12);
  writeFileSync(file, bytes);

  it('decode prints one JSON line per record, and encode writes the very same bytes back', async () => {
    const out = await ficus(['layout', 'decode', '--layout', LAYOUT, file]);
    expect(out.code).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ type: 'header', phExtractDate: '2026-01-02', phExtractTime: 30405, phExtractSeq: 12 });
    expect(lines[1]).toMatchObject({ type: 'detail', prSku: 'HW-1040', prStatus: 'active' });
    expect(lines[5]).toMatchObject({ type: 'trailer', ptRecordCount: 4 });
    expect(out.stderr).toMatch(/6 records, 6 good, 0 bad; trailer checks out/);
    writeFileSync(join(dir, 'rows.jsonl'), out.stdout);
    const enc = await inProcess('encode', join(dir, 'rows.jsonl'), { layout: LAYOUT, output: join(dir, 'AGAIN.DAT') });
    expect(enc.code).toBe(0);
    expect(readFileSync(join(dir, 'AGAIN.DAT')).equals(bytes)).toBe(true);
  });

  it('decode reports bad records with record number, byte offset, field and reason, and still prints the good ones', async () => {
    const bad = Buffer.from(bytes);
    bad[2 * 80 + 50] = 0xff; // a packed price of the second product
    writeFileSync(join(dir, 'BAD.DAT'), bad);
    const out = await inProcess('decode', join(dir, 'BAD.DAT'), { layout: LAYOUT, errors: 'json' });
    expect(out.code).toBe(1);
    expect(out.stdout.trim().split('\n')).toHaveLength(5);
    const errors = out.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors[0]).toEqual({ error: 'invalid packed-decimal digit in byte 0xFF', recordNo: 3, offset: 210, recordType: 'detail', field: 'prUnitPrice' });
  });

  it('reads a bare copybook with the code page given on the command line', async () => {
    const cpy = join(dir, 'item.cpy');
    writeFileSync(cpy, '       01  ITEM.\n           05  ITEM-NO    PIC 9(4).\n           05  ITEM-PRICE PIC S9(3)V99 COMP-3.\n');
    writeFileSync(join(dir, 'ITEM.DAT'), Buffer.from('f0f0f4f2 01234c f0f0f0f1 00099d'.replace(/ /g, ''), 'hex'));
    const out = await inProcess('decode', join(dir, 'ITEM.DAT'), { layout: cpy, encoding: 'cp500' });
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { itemNo: 42, itemPrice: 12.34 },
      { itemNo: 1, itemPrice: -0.99 },
    ]);
  });

  it('encode names the input line and field of a value it cannot write', async () => {
    writeFileSync(join(dir, 'in.jsonl'), '{"itemNo": 1, "itemPrice": 5}\n{"itemNo": 123456, "itemPrice": 1}\nnot json\n');
    const out = await inProcess('encode', join(dir, 'in.jsonl'), { layout: join(dir, 'item.cpy'), encoding: 'cp037', output: join(dir, 'OUT.DAT') });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/bad line 2: field itemNo: value has 6 digits; PIC 9\(4\) holds 4/);
    expect(out.stderr).toMatch(/bad line 3: not JSON/);
    expect(readFileSync(join(dir, 'OUT.DAT')).length).toBe(7);
  });

  it('decode takes several files (as a shell pattern gives them), one summary each, and exits with the worst code', async () => {
    const bad = Buffer.from(bytes);
    bad[2 * 80 + 50] = 0xff;
    writeFileSync(join(dir, 'PRODUCTS.2.DAT'), bad);
    const out = await ficus(['layout', 'decode', '--layout', LAYOUT, file, join(dir, 'PRODUCTS.2.DAT')]);
    expect(out.code).toBe(1);
    expect(out.stdout.trim().split('\n')).toHaveLength(6 + 5);
    expect(out.stderr).toContain(`${file}: 6 records, 6 good, 0 bad; trailer checks out`);
    expect(out.stderr).toContain(`${join(dir, 'PRODUCTS.2.DAT')}: 6 records, 5 good, 1 bad`);
  });

  it('decode reads a LINE SEQUENTIAL file as GnuCOBOL writes it: LF after each record, trailing spaces stripped', async () => {
    const cpy = join(dir, 'customer.cpy');
    writeFileSync(cpy, '       01  CUSTOMER-LINE.\n           05  CL-ID      PIC 9(6).\n           05  CL-NAME    PIC X(20).\n           05  CL-CITY    PIC X(15).\n');
    // WRITE of 000001/"Ann Example"/"Paris", 000002/"Bert"/spaces, 000003/spaces/spaces.
    writeFileSync(join(dir, 'CUSTOMERS.TXT'), '000001Ann Example         Paris\n000002Bert\n000003\n');
    const out = await inProcess('decode', join(dir, 'CUSTOMERS.TXT'), { layout: cpy, encoding: 'ascii', delimiter: 'lf' });
    expect(out.stderr).toMatch(/3 records, 3 good, 0 bad/);
    expect(out.code).toBe(0);
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { clId: 1, clName: 'Ann Example', clCity: 'Paris' },
      { clId: 2, clName: 'Bert', clCity: '' },
      { clId: 3, clName: '', clCity: '' },
    ]);
    // A line longer than its record is still refused.
    writeFileSync(join(dir, 'LONG.TXT'), '000001Ann Example         Paris          !\n');
    const long = await inProcess('decode', join(dir, 'LONG.TXT'), { layout: cpy, encoding: 'ascii', delimiter: 'lf' });
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/record of the wrong length: 42 bytes; record is 41 bytes/);
  });

  it('--record chooses the 01 level of a copybook with several, and the error without it says --record', async () => {
    const cpy = join(PROJECT_ROOT, 'adapters/mainframe-files/layouts/products.cpy');
    writeFileSync(join(dir, 'DETAILS.DAT'), bytes.subarray(80, 5 * 80)); // the four product records, without header and trailer
    await expect(inProcess('decode', join(dir, 'DETAILS.DAT'), { layout: cpy })).rejects.toThrow(
      new CliExit(2, `${cpy}: --record: products.cpy has 3 records (productHeader, productRecord, productTrailer)\n  fix: say which: --record <name>`),
    );
    const one = await ficus(['layout', 'decode', '--layout', cpy, '--record', 'productRecord', join(dir, 'DETAILS.DAT')]);
    expect(one.stderr).toMatch(/4 records, 4 good, 0 bad/);
    expect(one.code).toBe(0);
    expect(
      one.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { prSku: string }).prSku),
    ).toEqual(['HW-1040', 'HW-1041', 'HW-1042', 'HW-1043']);
    const unknown = await ficus(['layout', 'decode', '--layout', cpy, '--record', 'productLine', join(dir, 'DETAILS.DAT')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`ficus layout: ${cpy}: --record: no 01 level productLine in products.cpy\n  fix: use one of: productHeader, productRecord, productTrailer\n`);
  });

  it('exits quietly with 0 when the reader of its output goes away (ficus layout decode … | head -1)', async () => {
    const stdoutGone = await ficusIntoClosedPipe(['layout', 'decode', '--layout', LAYOUT, file], 'stdout');
    expect(stdoutGone.said).not.toMatch(/EPIPE|Error/);
    expect(stdoutGone).toMatchObject({ code: 0, signal: null });
    const stderrGone = await ficusIntoClosedPipe(['layout', 'decode', '--layout', LAYOUT, file], 'stderr');
    expect(stderrGone).toMatchObject({ code: 0, signal: null });
  });
});
