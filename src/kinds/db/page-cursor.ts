/**
 * The db kind's page cursors: the position after the last row of a page (its sort-key values, or
 * an offset), signed with HMAC-SHA256 so that a caller cannot forge or alter one, and tied to the
 * adapter and operation that issued it. Format: base64url(JSON) "." base64url(MAC).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Used when no key is configured: fine on a laptop, never in production (the adapter logs a warning). */
export const DEVELOPMENT_CURSOR_KEY = 'ficus-development-cursor-key: set a real one in production';

export type CursorValue = string | number | boolean | null;
export type CursorPosition = { after: CursorValue[] } | { offset: number };

export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

export class PageCursors {
  private readonly key: Buffer;

  constructor(
    key: string,
    private readonly scope: string,
  ) {
    this.key = Buffer.from(key, 'utf8');
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(this.scope).update('\0').update(payload).digest();
  }

  encode(position: CursorPosition): string {
    const payload = Buffer.from(JSON.stringify('offset' in position ? { o: position.offset } : { a: position.after })).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** Checks the signature and the shape; `keys` is how many sort-key values a keyset cursor holds. */
  decode(cursor: string, keys: number): CursorPosition {
    const dot = cursor.indexOf('.');
    if (dot <= 0 || dot !== cursor.lastIndexOf('.')) throw new CursorError('the cursor is not one this gateway issued');
    const payload = cursor.slice(0, dot);
    const given = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new CursorError('the cursor was altered or was issued for another operation');
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new CursorError('the cursor is not one this gateway issued');
    }
    const v = value as { o?: unknown; a?: unknown };
    if (typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return { offset: v.o };
    if (Array.isArray(v.a) && v.a.length === keys && v.a.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) {
      return { after: v.a as CursorValue[] };
    }
    throw new CursorError("the cursor does not fit this operation's paging");
  }
}

/** A row value as it can travel in a cursor (dates as ISO text, big integers as text). */
export function cursorValue(v: unknown): CursorValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return String(v);
}
