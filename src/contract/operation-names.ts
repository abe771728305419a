/**
 * Names for operations: the operationId Ficus derives where the contract gives none
 * (`get /streams/{id}` → `getStreamsById`), and `METHOD /path` keys, which adapters and routes may
 * use instead of an operationId to name an operation.
 */
const METHOD_NAMES = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

function words(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/** `get /streams/{id}` → `getStreamsById`; `post /files/{name}.{ext}` → `postFilesByNameAndExt`; `get /` → `getRoot`. */
export function derivedOperationId(method: string, path: string): string {
  let out = method.toLowerCase();
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0) return `${out}Root`;
  for (const segment of segments) {
    const params = [...segment.matchAll(/\{([^}]+)\}/g)].map((m) => words(m[1]));
    const literal = words(segment.replace(/\{[^}]+\}/g, ' '));
    out += literal;
    if (params.length > 0) out += `By${params.join('And')}`;
  }
  return out;
}

/** `GET /streams/{id}` (any case of method, one space) → its parts; undefined for anything else. */
export function parseOperationKey(key: string): { method: string; path: string } | undefined {
  const m = /^([A-Za-z]+)\s+(\/\S*)$/.exec(key.trim());
  if (!m || !METHOD_NAMES.has(m[1].toLowerCase())) return undefined;
  return { method: m[1].toLowerCase(), path: m[2] };
}
