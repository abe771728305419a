/**
 * The sticky key of a canary route: `path.<name>`, `header.<name>` or `query.<name>` of the request.
 * A call without the key (the header was not sent, say) gets its request id, i.e. a random split.
 */
import type { OperationRequest } from '../../kinds/kind.ts';

export const STICKY_KEY = /^(path|header|query)\.([A-Za-z0-9_.-]+)$/;

export function stickyKeyOf(spec: string | undefined, req: OperationRequest): string {
  const m = spec === undefined ? null : STICKY_KEY.exec(spec);
  if (!m) return req.requestId;
  const [, where, name] = m;
  const source = where === 'path' ? req.pathParams : where === 'query' ? req.query : req.headers;
  const value = source[where === 'header' ? name.toLowerCase() : name];
  if (value === undefined || value === null || value === '') return req.requestId;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
