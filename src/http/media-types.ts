/**
 * Media types as the contract declares them (`content` keys of request bodies and responses) and
 * as callers and backends send them: parsed once, and matched the way OpenAPI says, the most
 * specific declaration first (`application/json; version=1`, then `application/json`, then
 * `application/*`, then `*\/*`). Parameters on a declared key must be sent too (`version=2` does
 * not match `version=1`); `charset` is compared without regard to case and may be left out.
 */

export interface MediaType {
  /** `type/subtype`, lower-cased, without parameters. */
  essence: string;
  type: string;
  subtype: string;
  /** Parameter names lower-cased; values as written (charset lower-cased). */
  params: Record<string, string>;
}

/** The body kinds a backend may be able to carry (see `Kind.bodies`). */
export type BodyKind = 'json' | 'form' | 'multipart' | 'text' | 'binary';

export function parseMediaType(text: string | undefined): MediaType | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(';');
  const essence = parts[0].trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0 || slash === essence.length - 1) return undefined;
  const params: Record<string, string> = {};
  for (let i = 1; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq === -1) continue;
    const name = parts[i].slice(0, eq).trim().toLowerCase();
    let value = parts[i].slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name === 'charset') value = value.toLowerCase();
    if (name !== '' && name !== '__proto__') params[name] = value;
  }
  return { essence, type: essence.slice(0, slash), subtype: essence.slice(slash + 1), params };
}

export function isJsonMedia(m: MediaType): boolean {
  return m.essence === 'application/json' || m.subtype.endsWith('+json');
}

/** What a body of this media type is to the gateway. */
export function bodyKindOf(m: MediaType): BodyKind {
  if (isJsonMedia(m)) return 'json';
  if (m.essence === 'application/x-www-form-urlencoded') return 'form';
  if (m.essence === 'multipart/form-data' || m.type === 'multipart') return 'multipart';
  if (m.type === 'text' || m.subtype.endsWith('+xml') || m.essence === 'application/xml') return 'text';
  return 'binary';
}

interface Declared<T> {
  media: MediaType;
  key: string;
  value: T;
}

/** The declared media types of one `content` map, matched against what is sent. */
export class MediaMatcher<T> {
  private readonly exact = new Map<string, Declared<T>[]>();
  private readonly byType = new Map<string, Declared<T>>();
  private any: Declared<T> | undefined;
  readonly keys: string[];

  constructor(content: Record<string, T>) {
    this.keys = Object.keys(content);
    for (const key of this.keys) {
      const media = parseMediaType(key);
      if (!media) continue;
      const d = { media, key, value: content[key] };
      if (media.essence === '*/*') this.any ??= d;
      else if (media.subtype === '*') {
        if (!this.byType.has(media.type)) this.byType.set(media.type, d);
      } else {
        const list = this.exact.get(media.essence) ?? [];
        list.push(d);
        // Most parameters first: the most specific declaration wins.
        list.sort((a, b) => Object.keys(b.media.params).length - Object.keys(a.media.params).length);
        this.exact.set(media.essence, list);
      }
    }
  }

  get size(): number {
    return this.keys.length;
  }

  /** The declaration the sent media type falls under, or undefined (415 for a request). */
  match(sent: MediaType): { key: string; value: T } | undefined {
    const list = this.exact.get(sent.essence);
    if (list) {
      // A parameter the contract distinguishes this type by (`version`) must be one declared.
      const distinguishing = Object.keys(sent.params).filter((name) => name !== 'charset' && list.some((d) => name in d.media.params));
      for (const d of list) if (paramsFit(d.media.params, sent.params) && distinguishing.every((name) => name in d.media.params)) return d;
    }
    const byType = this.byType.get(sent.type);
    if (byType) return byType;
    return this.any;
  }
}

function paramsFit(declared: Record<string, string>, sent: Record<string, string>): boolean {
  for (const name in declared) {
    const s = sent[name];
    if (s === undefined) {
      if (name === 'charset') continue;
      return false;
    }
    if (s !== declared[name]) return false;
  }
  return true;
}
