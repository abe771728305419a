/**
 * The sftp kind runs the conformance suite against a real OpenSSH server (test/helpers/sshd.ts)
 * serving an export file of the shared things (fixed-width ASCII records, one per thing). A thing is
 * created as the mainframe creates orders: a request file written to the inbound folder, answered
 * by a reply file that a small batch job (below) writes for each request it finds.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { THINGS, kindConformance, type AdapterPlan } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'ficus-sftp-conformance-'));
writeFileSync(
  join(dir, 'things.yaml'),
  [
    'name: things',
    'encoding: ascii',
    'delimiter: lf',
    'records:',
    '  thing:',
    '    role: detail',
    '    fields:',
    '      - { name: thingId, pic: 9(4) }',
    '      - { name: thingName, pic: X(10) }',
    '',
  ].join('\n'),
);
// The create request and its reply: one fixed-width record each, no header or trailer.
writeFileSync(
  join(dir, 'thing-request.yaml'),
  [
    'name: thing-request',
    'encoding: ascii',
    'delimiter: lf',
    'records:',
    '  thingRequest:',
    '    role: detail',
    '    fields:',
    '      - { name: ref, pic: X(16) }',
    '      - { name: thingName, pic: X(10) }',
    '',
  ].join('\n'),
);
writeFileSync(
  join(dir, 'thing-reply.yaml'),
  [
    'name: thing-reply',
    'encoding: ascii',
    'delimiter: lf',
    'records:',
    '  thingReply:',
    '    role: detail',
    '    fields:',
    '      - { name: ref, pic: X(16) }',
    '      - { name: outcome, pic: X(8) }',
    '      - { name: thingNo, pic: 9(4) }',
    '',
  ].join('\n'),
);
const CREATED_ID = 4;
const read = (as: 'item' | 'page') => ({ read: { pattern: 'THINGS.*.DAT', layout: 'things.yaml', key: 'thingId', refreshMs: 0, as }, map: { id: 'thingId', name: 'thingName' } });
const BINDINGS = {
  getThing: read('item'),
  listThings: read('page'),
  createThing: {
    request: { layout: 'thing-request.yaml', record: 'thingRequest', file: 'THINGREQ.{fileId}.DAT', id: { field: 'ref', record: 'ref', prefix: 'T', length: 16 } },
    reply: {
      layout: 'thing-reply.yaml',
      record: 'thingReply',
      file: 'THINGREP.{fileId}.DAT',
      key: 'ref',
      status: { field: 'outcome', accepted: ['ACCEPTED'] },
      map: { id: 'thingNo' },
      timeoutMs: 20_000,
    },
    map: { name: 'thingName' },
    response: { echo: ['name'], fields: ['id', 'name'] },
  },
};

/**
 * The legacy side of a create: reads each request file in inbound/ and writes its reply to
 * outbound/ (under another name, then renamed, as the kind expects), every thing numbered 4.
 */
function startBatchJob(root: string): () => void {
  for (const d of ['inbound', 'inbound/done', 'outbound', 'archive', 'quarantine']) mkdirSync(join(root, d), { recursive: true });
  const timer = setInterval(() => {
    for (const f of readdirSync(join(root, 'inbound'))) {
      const m = /^THINGREQ\.(\w+)\.DAT$/.exec(f);
      if (!m) continue;
      const replies = readFileSync(join(root, 'inbound', f), 'latin1')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => `${l.slice(0, 16)}${'ACCEPTED'}${String(CREATED_ID).padStart(4, '0')}`);
      const out = join(root, 'outbound', `THINGREP.${m[1]}.DAT`);
      if (!existsSync(out)) {
        writeFileSync(out + '.tmp', replies.join('\n') + '\n');
        renameSync(out + '.tmp', out);
      }
      renameSync(join(root, 'inbound', f), join(root, 'inbound', 'done', f));
    }
  }, 20);
  return () => clearInterval(timer);
}
let stopBatchJob = (): void => undefined;

let sshd: Sshd;
/** known_hosts for the server's key as seen at `port` (the server's own, or a proxy's in front of it). */
function knownHosts(port: number): string {
  const file = join(dir, `known_hosts_${port}`);
  writeFileSync(file, `[127.0.0.1]:${port} ${sshd.hostKeyLine.split(' ').slice(1).join(' ')}\n`);
  return file;
}
const plan = (port: number, auth: Record<string, string> = { privateKey: sshd.privateKey }): AdapterPlan => ({
  connection: { host: '127.0.0.1', port, username: sshd.username, ...auth, knownHosts: knownHosts(port), maxConnections: 1, connectTimeoutMs: 2_000, keepAliveIntervalMs: 0, pollIntervalMs: 50 },
  bindings: BINDINGS,
  dir,
});

kindConformance({
  kind: 'sftp',
  async before() {
    sshd = await startSshd();
    mkdirSync(join(sshd.root, 'exports'), { recursive: true });
    const records = THINGS.map((t) => `${String(t.id).padStart(4, '0')}${t.name.padEnd(10)}`).join('\n') + '\n';
    writeFileSync(join(sshd.root, 'exports', 'THINGS.20260101.DAT'), records);
    stopBatchJob = startBatchJob(sshd.root);
  },
  async after() {
    stopBatchJob();
    await sshd?.dispose();
    rmSync(dir, { recursive: true, force: true });
  },
  live: () => plan(sshd.port),
  at: (port) => plan(port),
  livePort: () => sshd.port,
  // The server takes keys only: a password is refused.
  refusingCredentials: () => plan(sshd.port, { password: 'not-the-password' }),
  badBinding: { operation: 'getThing', binding: { read: { pattern: 'THINGS.*.DAT', layout: 'no-such-layout.yaml', key: 'thingId' } }, subKey: 'read.layout' },
  supports: {
    getThing: true,
    listThings: true,
    createThing: true,
  },
  policy: { timeoutMs: 10_000 },
  // Reads after the first are answered from the export's indexed local copy (the refresh that goes
  // to the server runs in the background for every operation), so no read is held to abort; every
  // write goes to the server (a request file, then its reply).
  abortedCallVia: 'createThing',
});
