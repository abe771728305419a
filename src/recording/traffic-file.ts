/**
 * A traffic file: the requests `ficus record capture` sends through a gateway to make a recording.
 * One request a line, `METHOD /path?query [JSON body]`; blank lines and `#` comments are skipped.
 *
 *   GET /customers/1001
 *   GET /customers?limit=5
 *   POST /orders {"customerId": 1001, "lines": [{"sku": "HW-1042", "quantity": 1}]}
 */
import { readFileSync } from 'node:fs';

export interface TrafficRequest {
  method: string;
  path: string;
  body?: unknown;
  line: number;
}

export class TrafficFileError extends Error {}

export function readTrafficFile(file: string): TrafficRequest[] {
  const out: TrafficRequest[] = [];
  const errors: string[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) return;
      const m = /^([A-Za-z]+)\s+(\/\S*)(?:\s+(.+))?$/.exec(text);
      if (!m) {
        errors.push(`${file}:${i + 1}: expected "METHOD /path [JSON body]", got "${text}"`);
        return;
      }
      let body: unknown;
      if (m[3] !== undefined) {
        try {
          body = JSON.parse(m[3]);
        } catch (err) {
          errors.push(`${file}:${i + 1}: the body is not valid JSON: ${(err as Error).message}`);
          return;
        }
      }
      out.push({ method: m[1].toUpperCase(), path: m[2], body, line: i + 1 });
    });
  if (errors.length > 0) throw new TrafficFileError(errors.join('\n'));
  return out;
}
