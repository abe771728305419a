/**
 * CloudEvents 1.0 (structured JSON mode): what a change feed publishes. The id is derived from the
 * change itself (feed, key, version and the resource's hash), so reading the same change again
 * after a crash gives the same id and consumers can de-duplicate.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from '../writes/canonical-json.ts';

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: unknown;
  /** Extension attribute: the feed that saw the change. */
  ficusfeed: string;
}

/**
 * An event as the outbox holds it for a sink: its JSON text, published as it is (the bytes a consumer
 * receives), and the attributes a sink routes and labels it with. Not parsed into a CloudEvent: a
 * batch of parsed events, held while it is published, outlived V8's young generation and was garbage
 * for the next major GC (about 0.7 KB an event).
 */
export interface StoredEvent {
  id: string;
  type: string;
  subject: string;
  json: string;
}

/**
 * The StoredEvent of an outbox row's JSON text. Reads only the attributes before `data` (where
 * `cloudEvent` puts them), so a large `data` is not parsed; any other text is parsed whole. A prefix
 * cut at `,"data":` that parses as an object is the event's top level: inside a JSON string a quote is
 * escaped, and a cut inside a nested value leaves its braces open.
 */
export function storedEvent(json: string): StoredEvent {
  const cut = json.indexOf(',"data":');
  let head: Partial<Record<'id' | 'type' | 'subject', unknown>> | undefined;
  if (cut > 0 && json.startsWith('{')) {
    try {
      head = JSON.parse(`${json.slice(0, cut)}}`) as typeof head;
    } catch {
      head = undefined;
    }
  }
  if (typeof head?.id !== 'string' || typeof head.type !== 'string' || typeof head.subject !== 'string') head = JSON.parse(json) as typeof head;
  return { id: String(head!.id), type: String(head!.type), subject: String(head!.subject), json };
}

/** A row's hash: its canonical JSON (keys sorted), SHA-256, the first 32 characters of base64url. */
export function hashOf(value: unknown): string {
  return hash('sha256', canonicalJson(value), 'base64url').slice(0, 32);
}

export function eventId(feed: string, key: string, version: string, rowHash: string): string {
  return hash('sha256', `${feed}\u0000${key}\u0000${version}\u0000${rowHash}`, 'hex').slice(0, 32);
}

/** `time`: when the change was read (default now); an ISO text is taken as it is (one for a page's events). */
export function cloudEvent(e: { id: string; source: string; type: string; subject: string; data: unknown; feed: string; time?: Date | string }): CloudEvent {
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: typeof e.time === 'string' ? e.time : (e.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    data: e.data,
    ficusfeed: e.feed,
  };
}
