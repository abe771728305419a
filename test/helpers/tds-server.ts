/**
 * A small server that speaks enough TDS 7.4 (SQL Server's wire protocol) for the real `mssql` /
 * tedious driver to log in and run parameterised queries against it, answered from canned result
 * sets. It is a test double for a SQL Server on these machines, where none can be installed:
 *
 * - PRELOGIN (no TLS: it answers ENCRYPT_NOT_SUP, so the client must use encrypt: false)
 * - LOGIN7: user, password (unscrambled and checked), database, application name and the
 *   ReadOnlyIntent flag are recorded; a wrong password gets error 18456 like SQL Server's
 * - SQL batches (the driver's session set-up) and RPC calls of sp_executesql, whose statement,
 *   declarations and typed parameters (int, bigint, float, bit, nvarchar) are decoded and handed to
 *   the test's `onQuery`, which answers rows, an error, or nothing (after a delay, if it likes)
 * - ATTENTION (a cancel, e.g. the driver's request timeout): acknowledged, the pending answer dropped
 *
 * Loopback only; `close()` ends every connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type TdsType = 'int' | 'bigint' | 'float' | 'bit' | 'nvarchar';
export interface TdsColumn {
  name: string;
  type: TdsType;
}
export interface TdsRows {
  columns: TdsColumn[];
  /** Each row's values in column order; null for NULL. */
  rows: (string | number | boolean | null)[][];
}
export interface TdsErrorAnswer {
  error: { number: number; message: string; severity?: number };
}
export type TdsAnswer = TdsRows | TdsErrorAnswer | { delayMs: number; then: TdsRows | TdsErrorAnswer };

export interface TdsQuery {
  /** 'rpc' for sp_executesql, 'batch' for a SQL batch. */
  kind: 'rpc' | 'batch';
  procedure?: string;
  sql: string;
  /** The @params declaration of sp_executesql, e.g. '@p1 int,@p2 nvarchar(4000)'. */
  declarations?: string;
  /** Parameter values by name without the @. */
  params: Record<string, string | number | boolean | null>;
  /** The TDS type id each parameter was sent as (0x26 INTN, 0x6D FLTN, 0x68 BITN, 0xE7 NVARCHAR). */
  paramTypes: Record<string, number>;
}

export interface TdsLogin {
  user: string;
  password: string;
  database: string;
  appName: string;
  readOnlyIntent: boolean;
  tdsVersion: number;
  accepted: boolean;
}

export interface TdsServerOptions {
  /** login → password; default { sa: 'Secret-123' }. */
  users?: Record<string, string>;
  onQuery(q: TdsQuery): TdsAnswer | Promise<TdsAnswer>;
}

export interface RunningTdsServer {
  host: string;
  port: number;
  logins: TdsLogin[];
  queries: TdsQuery[];
  attentions: number;
  close(): Promise<void>;
}

const PACKET = { SQL_BATCH: 0x01, RPC: 0x03, REPLY: 0x04, ATTENTION: 0x06, LOGIN7: 0x10, PRELOGIN: 0x12 } as const;
const TOKEN = { COLMETADATA: 0x81, ERROR: 0xaa, LOGINACK: 0xad, ROW: 0xd1, ENVCHANGE: 0xe3, DONE: 0xfd, DONEPROC: 0xfe, DONEINPROC: 0xff, RETURNSTATUS: 0x79 } as const;
const DONE = { FINAL: 0x00, MORE: 0x01, ERROR: 0x02, COUNT: 0x10, ATTN: 0x20 } as const;
const TYPE = { INTN: 0x26, FLTN: 0x6d, BITN: 0x68, NVARCHAR: 0xe7, NCHAR: 0xef, BIGVARCHAR: 0xa7 } as const;
const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);
const PACKET_SIZE = 4096;
const SP_EXECUTESQL = 10;

// ---- writing ----------------------------------------------------------------------------------

class Writer {
  private parts: Buffer[] = [];
  u8(v: number) {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    this.parts.push(b);
    return this;
  }
  u16(v: number) {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.parts.push(b);
    return this;
  }
  u16be(v: number) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u32be(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer) {
    this.parts.push(b);
    return this;
  }
  /** B_VARCHAR: a byte of length in characters, then UCS-2. */
  bVarchar(s: string) {
    return this.u8(s.length).bytes(Buffer.from(s, 'ucs2'));
  }
  /** US_VARCHAR: two bytes of length in characters, then UCS-2. */
  usVarchar(s: string) {
    return this.u16(s.length).bytes(Buffer.from(s, 'ucs2'));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function withLength(token: number, body: Buffer): Buffer {
  return new Writer().u8(token).u16(body.length).bytes(body).done();
}

function envChange(type: number, newValue: string, oldValue: string): Buffer {
  return withLength(TOKEN.ENVCHANGE, new Writer().u8(type).bVarchar(newValue).bVarchar(oldValue).done());
}

function doneToken(token: number, status: number, count: number): Buffer {
  return new Writer().u8(token).u16(status).u16(0xc1).u64(count).done();
}

function errorToken(number: number, message: string, severity: number): Buffer {
  const body = new Writer().i32(number).u8(1).u8(severity).usVarchar(message).bVarchar('ficus-tds-test').bVarchar('').i32(1).done();
  return withLength(TOKEN.ERROR, body);
}

function colMetadata(columns: TdsColumn[]): Buffer {
  const w = new Writer().u8(TOKEN.COLMETADATA).u16(columns.length);
  for (const c of columns) {
    w.u32(0).u16(0x0001 /* nullable */);
    if (c.type === 'int') w.u8(TYPE.INTN).u8(4);
    else if (c.type === 'bigint') w.u8(TYPE.INTN).u8(8);
    else if (c.type === 'float') w.u8(TYPE.FLTN).u8(8);
    else if (c.type === 'bit') w.u8(TYPE.BITN).u8(1);
    else w.u8(TYPE.NVARCHAR).u16(8000).bytes(COLLATION);
    w.bVarchar(c.name);
  }
  return w.done();
}

function rowToken(columns: TdsColumn[], row: (string | number | boolean | null)[]): Buffer {
  const w = new Writer().u8(TOKEN.ROW);
  columns.forEach((c, i) => {
    const v = row[i];
    if (c.type === 'nvarchar') {
      if (v === null || v === undefined) w.u16(0xffff);
      else {
        const b = Buffer.from(String(v), 'ucs2');
        w.u16(b.length).bytes(b);
      }
      return;
    }
    if (v === null || v === undefined) {
      w.u8(0);
      return;
    }
    if (c.type === 'int') w.u8(4).i32(Number(v));
    else if (c.type === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(v as number));
      w.u8(8).bytes(b);
    } else if (c.type === 'float') {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(Number(v));
      w.u8(8).bytes(b);
    } else w.u8(1).u8(v ? 1 : 0);
  });
  return w.done();
}

function packets(type: number, payload: Buffer): Buffer {
  const out: Buffer[] = [];
  const max = PACKET_SIZE - 8;
  let id = 1;
  for (let off = 0; off < payload.length || off === 0; off += max) {
    const chunk = payload.subarray(off, off + max);
    const last = off + max >= payload.length;
    const h = Buffer.alloc(8);
    h.writeUInt8(type, 0);
    h.writeUInt8(last ? 0x01 : 0x00, 1);
    h.writeUInt16BE(chunk.length + 8, 2);
    h.writeUInt16BE(0x0033, 4);
    h.writeUInt8(id++ % 256, 6);
    out.push(h, chunk);
    if (payload.length === 0) break;
  }
  return Buffer.concat(out);
}

// ---- reading ----------------------------------------------------------------------------------

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  u8() {
    return this.buf.readUInt8(this.pos++);
  }
  u16() {
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32() {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number) {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  bVarchar() {
    return this.bytes(this.u8() * 2).toString('ucs2');
  }
  usVarchar() {
    return this.bytes(this.u16() * 2).toString('ucs2');
  }
}

function skipAllHeaders(r: Reader): void {
  const total = r.buf.readUInt32LE(r.pos);
  r.pos += total;
}

function unscramble(b: Buffer): string {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) {
    const x = out[i] ^ 0xa5;
    out[i] = ((x & 0x0f) << 4) | (x >> 4);
  }
  return out.toString('ucs2');
}

function parseLogin(p: Buffer): Omit<TdsLogin, 'accepted'> {
  const str = (at: number, scrambled = false) => {
    const off = p.readUInt16LE(at);
    const len = p.readUInt16LE(at + 2);
    const b = p.subarray(off, off + len * 2);
    return scrambled ? unscramble(b) : b.toString('ucs2');
  };
  return {
    tdsVersion: p.readUInt32LE(4),
    readOnlyIntent: (p.readUInt8(26) & 0x20) !== 0,
    user: str(40),
    password: str(44, true),
    appName: str(48),
    database: str(68),
  };
}

function readTypedValue(r: Reader): { type: number; value: string | number | boolean | null } {
  const type = r.u8();
  switch (type) {
    case TYPE.INTN: {
      r.u8();
      const len = r.u8();
      if (len === 0) return { type, value: null };
      if (len === 1) return { type, value: r.u8() };
      if (len === 2) return { type, value: r.bytes(2).readInt16LE(0) };
      if (len === 4) return { type, value: r.bytes(4).readInt32LE(0) };
      return { type, value: Number(r.bytes(8).readBigInt64LE(0)) };
    }
    case TYPE.FLTN: {
      r.u8();
      const len = r.u8();
      if (len === 0) return { type, value: null };
      return { type, value: len === 4 ? r.bytes(4).readFloatLE(0) : r.bytes(8).readDoubleLE(0) };
    }
    case TYPE.BITN: {
      r.u8();
      const len = r.u8();
      return { type, value: len === 0 ? null : r.u8() !== 0 };
    }
    case TYPE.NVARCHAR:
    case TYPE.NCHAR:
    case TYPE.BIGVARCHAR: {
      const max = r.u16();
      r.bytes(5);
      const enc = type === TYPE.BIGVARCHAR ? 'latin1' : 'ucs2';
      if (max === 0xffff) {
        // PLP: total length (8 bytes), then chunks of (4-byte length, data), ending with a 0 length.
        const total = r.buf.readBigUInt64LE(r.pos);
        r.pos += 8;
        if (total === 0xffffffffffffffffn) return { type, value: null };
        const chunks: Buffer[] = [];
        for (;;) {
          const n = r.u32();
          if (n === 0) break;
          chunks.push(r.bytes(n));
        }
        return { type, value: Buffer.concat(chunks).toString(enc) };
      }
      const len = r.u16();
      if (len === 0xffff) return { type, value: null };
      return { type, value: r.bytes(len).toString(enc) };
    }
    default:
      throw new Error(`the TDS test server does not decode parameter type 0x${type.toString(16)}`);
  }
}

function parseRpc(payload: Buffer): TdsQuery {
  const r = new Reader(payload);
  skipAllHeaders(r);
  const nameLen = r.u16();
  let procedure: string;
  if (nameLen === 0xffff) {
    const id = r.u16();
    procedure = id === SP_EXECUTESQL ? 'sp_executesql' : `proc#${id}`;
  } else procedure = r.bytes(nameLen * 2).toString('ucs2');
  r.u16(); // option flags
  const values: { name: string; type: number; value: string | number | boolean | null }[] = [];
  while (r.pos < payload.length) {
    const name = r.bVarchar();
    r.u8(); // status flags
    values.push({ name, ...readTypedValue(r) });
  }
  const params: TdsQuery['params'] = {};
  const paramTypes: TdsQuery['paramTypes'] = {};
  for (const v of values.slice(2)) {
    params[v.name.replace(/^@/, '')] = v.value;
    paramTypes[v.name.replace(/^@/, '')] = v.type;
  }
  return { kind: 'rpc', procedure, sql: String(values[0]?.value ?? ''), declarations: values[1] ? String(values[1].value ?? '') : undefined, params, paramTypes };
}

// ---- the server -------------------------------------------------------------------------------

export async function startTdsServer(opts: TdsServerOptions): Promise<RunningTdsServer> {
  const users = opts.users ?? { sa: 'Secret-123' };
  const sockets = new Set<Socket>();
  const state: RunningTdsServer = { host: '127.0.0.1', port: 0, logins: [], queries: [], attentions: 0, close: async () => undefined };

  const serve = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let message: Buffer[] = [];
    /** The answer being prepared; an attention cancels it. */
    let pending: { cancelled: boolean } | undefined;
    let queue = Promise.resolve();
    const send = (type: number, payload: Buffer) => {
      if (!socket.destroyed) socket.write(packets(type, payload));
    };

    const answer = async (q: TdsQuery) => {
      state.queries.push(q);
      const ticket = { cancelled: false };
      pending = ticket;
      let a = await opts.onQuery(q);
      if ('delayMs' in a) {
        await new Promise((resolve) => setTimeout(resolve, (a as { delayMs: number }).delayMs));
        a = (a as { then: TdsRows | TdsErrorAnswer }).then;
      }
      if (ticket.cancelled) return;
      pending = undefined;
      const rpc = q.kind === 'rpc';
      const tokens: Buffer[] = [];
      if ('error' in a) {
        tokens.push(errorToken(a.error.number, a.error.message, a.error.severity ?? 16));
        tokens.push(doneToken(rpc ? TOKEN.DONEINPROC : TOKEN.DONE, DONE.ERROR | (rpc ? DONE.MORE : 0), 0));
      } else if (a.columns.length > 0) {
        tokens.push(colMetadata(a.columns));
        for (const row of a.rows) tokens.push(rowToken(a.columns, row));
        tokens.push(doneToken(rpc ? TOKEN.DONEINPROC : TOKEN.DONE, DONE.COUNT | (rpc ? DONE.MORE : 0), a.rows.length));
      } else if (!rpc) tokens.push(doneToken(TOKEN.DONE, DONE.FINAL, 0));
      if (rpc) {
        tokens.push(
          new Writer()
            .u8(TOKEN.RETURNSTATUS)
            .i32('error' in a ? 1 : 0)
            .done(),
        );
        tokens.push(doneToken(TOKEN.DONEPROC, 'error' in a ? DONE.ERROR : DONE.FINAL, 0));
      }
      send(PACKET.REPLY, Buffer.concat(tokens));
    };

    const onMessage = (type: number, payload: Buffer) => {
      switch (type) {
        case PACKET.PRELOGIN: {
          // VERSION (6 bytes), ENCRYPTION (1: not supported), INSTOPT (1), THREADID (4), MARS (1), terminator.
          const options = [
            [0x00, Buffer.from([16, 0, 0x10, 0x00, 0, 0])],
            [0x01, Buffer.from([0x02])],
            [0x02, Buffer.from([0x00])],
            [0x03, Buffer.from([0, 0, 0, 0])],
            [0x04, Buffer.from([0x00])],
          ] as const;
          let offset = options.length * 5 + 1;
          const head = new Writer();
          for (const [tok, data] of options) {
            head.u8(tok).u16be(offset).u16be(data.length);
            offset += data.length;
          }
          head.u8(0xff);
          send(PACKET.REPLY, Buffer.concat([head.done(), ...options.map(([, d]) => d)]));
          return;
        }
        case PACKET.LOGIN7: {
          const login = parseLogin(payload);
          const accepted = users[login.user] !== undefined && users[login.user] === login.password;
          state.logins.push({ ...login, accepted });
          if (!accepted) {
            send(PACKET.REPLY, Buffer.concat([errorToken(18456, `Login failed for user '${login.user}'.`, 14), doneToken(TOKEN.DONE, DONE.ERROR, 0)]));
            return;
          }
          const ack = new Writer().u8(1).u32be(0x74000004).bVarchar('Microsoft SQL Server').u8(16).u8(0).u8(0x10).u8(0x00).done();
          send(
            PACKET.REPLY,
            Buffer.concat([
              envChange(1, login.database || 'master', 'master'),
              withLength(TOKEN.ENVCHANGE, new Writer().u8(7).u8(5).bytes(COLLATION).u8(0).done()),
              envChange(4, String(PACKET_SIZE), String(PACKET_SIZE)),
              withLength(TOKEN.LOGINACK, ack),
              doneToken(TOKEN.DONE, DONE.FINAL, 0),
            ]),
          );
          return;
        }
        case PACKET.SQL_BATCH: {
          const r = new Reader(payload);
          skipAllHeaders(r);
          const sql = r.bytes(payload.length - r.pos).toString('ucs2');
          if (/^\s*set\s/i.test(sql)) {
            send(PACKET.REPLY, doneToken(TOKEN.DONE, DONE.FINAL, 0));
            return;
          }
          queue = queue
            .then(() => answer({ kind: 'batch', sql, params: {}, paramTypes: {} }))
            .catch(() => {
              socket.destroy();
            });
          return;
        }
        case PACKET.RPC: {
          const q = parseRpc(payload);
          queue = queue
            .then(() => answer(q))
            .catch(() => {
              socket.destroy();
            });
          return;
        }
        case PACKET.ATTENTION: {
          state.attentions++;
          // Like SQL Server: end the response being prepared (cut short), then acknowledge in a message of its own.
          if (pending) {
            pending.cancelled = true;
            send(PACKET.REPLY, doneToken(TOKEN.DONE, DONE.FINAL, 0));
          }
          pending = undefined;
          send(PACKET.REPLY, doneToken(TOKEN.DONE, DONE.ATTN, 0));
          return;
        }
        default:
          socket.destroy();
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8) {
        const len = buffered.readUInt16BE(2);
        if (buffered.length < len) break;
        const type = buffered.readUInt8(0);
        const eom = (buffered.readUInt8(1) & 0x01) !== 0;
        message.push(buffered.subarray(8, len));
        buffered = buffered.subarray(len);
        if (type === PACKET.ATTENTION) {
          // An attention may arrive while a request's answer is pending: handle it at once.
          message = [];
          onMessage(type, Buffer.alloc(0));
          continue;
        }
        if (eom) {
          const payload = Buffer.concat(message);
          message = [];
          try {
            onMessage(type, payload);
          } catch {
            socket.destroy();
          }
        }
      }
    });
  };

  const server: Server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
