/** The http kind runs the conformance suite against a loopback service holding the shared things. */
import { tmpdir } from 'node:os';
import { json, startHttpServer } from '../helpers/gateway.ts';
import { THINGS, kindConformance, type AdapterPlan } from './conformance.ts';

const API_KEY = 'conformance-key';
let service: Awaited<ReturnType<typeof startHttpServer>>;

const bindings = { getThing: {}, listThings: {}, createThing: {} };
const plan = (baseUrl: string, apiKey = API_KEY): AdapterPlan => ({
  connection: { baseUrl, headers: { 'x-api-key': apiKey }, connections: 1, socketTimeoutMs: 10_000 },
  bindings,
  dir: tmpdir(),
});

kindConformance({
  kind: 'http',
  async before() {
    const things: { id: number; name: string }[] = THINGS.map((t) => ({ ...t }));
    service = await startHttpServer((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/healthz') return json(res, 200, { ok: true });
      if (req.headers['x-api-key'] !== API_KEY) return json(res, 401, { title: 'Unauthorized', detail: 'bad API key' }, 'application/problem+json');
      const one = /^\/things\/(\d+)$/.exec(url.pathname);
      if (one && req.method === 'GET') {
        const thing = things.find((t) => t.id === Number(one[1]));
        return thing ? json(res, 200, thing) : json(res, 404, { title: 'Not found', detail: `no thing ${one[1]}` }, 'application/problem+json');
      }
      if (url.pathname === '/things' && req.method === 'GET') return json(res, 200, { items: things.slice(0, 3), nextCursor: null });
      if (url.pathname === '/things' && req.method === 'POST') {
        const thing = { id: things.length + 1, name: (JSON.parse(body) as { name: string }).name };
        things.push(thing);
        return json(res, 201, thing);
      }
      json(res, 404, { title: 'Not found' });
    });
  },
  after: () => service.close(),
  live: () => plan(service.url),
  at: (port) => plan(`http://127.0.0.1:${port}`),
  livePort: () => Number(new URL(service.url).port),
  refusingCredentials: () => plan(service.url, 'a-wrong-key'),
  badBinding: { operation: 'getThing', binding: { path: '/things/{id}' }, subKey: 'path' },
  supports: { getThing: true, listThings: true, createThing: true },
  policy: { timeoutMs: 10_000 },
});
