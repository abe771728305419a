/**
 * `recording.routes.<op>.when`: which calls of a recorded route are kept, by path pattern, consumer,
 * status and request header. Every condition given must hold; a route without `when` keeps every call.
 *
 *   recording:
 *     routes:
 *       getCustomer:
 *         when:
 *           path: /customers/1*          # * is any run within a segment, ** any run across segments
 *           consumer: [mobile-app]       # OperationRequest.consumer (the front door's name for the caller)
 *           status: [200, 5xx]           # a status, or a class
 *           header: { x-tenant: acme }   # a request header's value ('*': present at all)
 */
import { z } from 'zod';
import type { OperationRequest } from '../kinds/kind.ts';

export const recordWhenSchema = z
  .object({
    path: z.string().startsWith('/', 'a path pattern starting with /, such as /customers/1*').optional(),
    consumer: z.array(z.string().min(1)).optional(),
    status: z.array(z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]xx$/, 'a status such as 404, or a class such as 5xx')])).optional(),
    header: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), z.string()).optional(),
  })
  .strict();
export type RecordWhen = z.infer<typeof recordWhenSchema>;

function pathPattern(glob: string): RegExp {
  const body = glob
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

export type RecordFilter = (req: OperationRequest, path: string, status: number) => boolean;

/** The filter of one route's `when`. */
export function recordFilter(when: RecordWhen): RecordFilter {
  const path = when.path === undefined ? undefined : pathPattern(when.path);
  const consumers = when.consumer === undefined ? undefined : new Set(when.consumer);
  const statuses = when.status;
  const headers = Object.entries(when.header ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  return (req, concretePath, status) => {
    if (path && !path.test(concretePath)) return false;
    if (consumers && (req.consumer === undefined || !consumers.has(req.consumer))) return false;
    if (statuses && !statuses.some((s) => (typeof s === 'number' ? s === status : Math.floor(status / 100) === Number(s[0])))) return false;
    for (const [k, v] of headers) {
      const got = req.headers[k];
      if (got === undefined || (v !== '*' && got !== v)) return false;
    }
    return true;
  };
}
