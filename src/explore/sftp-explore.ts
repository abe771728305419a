/**
 * `ficus explore` for an sftp adapter: the files in each folder of the drop (inbound, replies,
 * archive, quarantine, exports) with their sizes, and which of the adapter's layouts each fits: the
 * layouts its bindings name and any other in its layouts/ folder. A file fits a fixed-length layout
 * when its size is a whole number of records and its first record's type code (where the layout
 * has one) is a code of the layout. Only the first record of a file is read.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { loadRecordFileSpec, type RecordFileSpec } from '../records/layout-file.ts';
import { registerCodePages } from '../records/code-pages.ts';
import { KnownHosts } from '../kinds/sftp/known-hosts.ts';
import { SftpPool, type SftpSession } from '../kinds/sftp/sftp-pool.ts';

export interface SftpConnectionForExplore {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  knownHosts: string;
  connectTimeoutMs: number;
  folders: Record<string, string>;
}

export interface FileLook {
  name: string;
  size: number;
  modified: string;
  /** The layouts (paths relative to the adapter folder) the file fits. */
  layouts: string[];
}

export interface FolderLook {
  role: string;
  path: string;
  files?: FileLook[];
  error?: string;
}

export interface SftpLook {
  where: string;
  layouts: { path: string; recordLength: number; delimiter: string; error?: string }[];
  folders: FolderLook[];
}

/** Every `layout:` string under the bindings. */
function layoutsNamed(value: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) layoutsNamed(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'layout' && typeof v === 'string') out.add(v);
      else layoutsNamed(v, out);
    }
  }
  return out;
}

interface KnownLayout {
  path: string;
  spec?: RecordFileSpec;
  error?: string;
}

function adapterLayouts(dir: string, operations: Record<string, unknown>): KnownLayout[] {
  const paths = layoutsNamed(operations, new Set<string>());
  const folder = join(dir, 'layouts');
  if (existsSync(folder)) for (const f of readdirSync(folder).sort()) if (/\.ya?ml$/i.test(f)) paths.add(`layouts/${f}`);
  return [...paths].map((p) => {
    try {
      return { path: p, spec: loadRecordFileSpec(isAbsolute(p) ? p : join(dir, p)) };
    } catch (err) {
      return { path: p, error: (err as Error).message.split('\n')[0] };
    }
  });
}

/** The first `n` bytes of a remote file. */
function head(session: SftpSession, path: string, n: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = session.sftp.createReadStream(path, { start: 0, end: Math.max(n - 1, 0) });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function fitsBySize(spec: RecordFileSpec, size: number): boolean {
  if (size === 0) return false;
  if (spec.delimiter === 'none') return size % spec.recordLength === 0;
  return true; // delimited and RDW files: the first record says
}

/** The first record decodes without a fault, as the record type its code names (or the one type there is). */
function fitsByFirstRecord(spec: RecordFileSpec, first: Buffer): boolean {
  const rt = spec.recordType;
  let type = spec.types[0];
  if (rt) {
    const page = type.codec.page;
    let code = '';
    for (const b of first.subarray(rt.offset, rt.offset + rt.length)) code += String.fromCharCode(page.decode[b]);
    const hit = spec.types.find((t) => t.code !== undefined && t.code.padEnd(rt.length, ' ') === code);
    if (!hit) return false;
    type = hit;
  }
  if (first.length < type.codec.layout.minLength) return false;
  try {
    type.codec.decode(first);
    return true;
  } catch {
    return false;
  }
}

function privateKeyOf(value: string | undefined, root: string): string | undefined {
  if (!value) return undefined;
  if (value.includes('PRIVATE KEY')) return value.replace(/\\n/g, '\n');
  return readFileSync(isAbsolute(value) ? value : join(root, value), 'utf8');
}

export async function exploreSftp(c: SftpConnectionForExplore, adapter: { dir: string; root: string; operations: Record<string, unknown> }): Promise<SftpLook> {
  registerCodePages();
  const layouts = adapterLayouts(adapter.dir, adapter.operations);
  const knownHosts = KnownHosts.load(isAbsolute(c.knownHosts) ? c.knownHosts : join(adapter.root, c.knownHosts));
  const pool = new SftpPool({
    host: c.host,
    port: c.port,
    username: c.username,
    password: c.password || undefined,
    privateKey: privateKeyOf(c.privateKey, adapter.root),
    passphrase: c.passphrase || undefined,
    knownHosts,
    maxConnections: 1,
    keepAliveIntervalMs: 10_000,
    keepAliveCountMax: 3,
    connectTimeoutMs: c.connectTimeoutMs,
    idleTimeoutMs: 60_000,
  });
  try {
    const folders: FolderLook[] = [];
    for (const [role, path] of Object.entries(c.folders)) {
      try {
        const files = await pool.use(async (s) => {
          const list = (await s.list(path)).sort((a, b) => a.name.localeCompare(b.name));
          const out: FileLook[] = [];
          for (const f of list) {
            const candidates = layouts.filter((l) => l.spec && fitsBySize(l.spec, f.size));
            const longest = Math.max(0, ...candidates.map((l) => l.spec!.recordLength));
            const first = candidates.length > 0 ? await head(s, `${path}/${f.name}`, Math.min(longest, f.size)) : Buffer.alloc(0);
            out.push({ name: f.name, size: f.size, modified: new Date(f.mtimeMs).toISOString(), layouts: candidates.filter((l) => fitsByFirstRecord(l.spec!, first)).map((l) => l.path) });
          }
          return out;
        });
        folders.push({ role, path, files });
      } catch (err) {
        folders.push({ role, path, error: (err as Error).message.split('\n')[0] });
      }
    }
    return {
      where: pool.where,
      layouts: layouts.map((l) => (l.spec ? { path: l.path, recordLength: l.spec.recordLength, delimiter: l.spec.delimiter } : { path: l.path, recordLength: 0, delimiter: '', error: l.error })),
      folders,
    };
  } finally {
    await pool.close();
  }
}
