/**
 * CloudEvents 1.0 (structured JSON mode): what a change feed publishes. The id is derived from the
 * change itself (feed, key, version and the resource's hash), so reading the same change again
 * after a crash gives the same id and consumers can de-duplicate.
 */
import { createHash } from 'node:crypto';
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

export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url').slice(0, 32);
}

export function eventId(feed: string, key: string, version: string, hash: string): string {
  return createHash('sha256').update(`${feed}\u0000${key}\u0000${version}\u0000${hash}`).digest('hex').slice(0, 32);
}

export function cloudEvent(e: { id: string; source: string; type: string; subject: string; data: unknown; feed: string; time?: Date }): CloudEvent {
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.subject,
    time: (e.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    data: e.data,
    ficusfeed: e.feed,
  };
}
