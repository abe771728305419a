// The floor for Node: node:http in, undici with keep-alive out, nothing else.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { announce } from './ready.ts';

const upstream = process.argv[2];
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
const server = createServer(async (req, res) => {
  try {
    const r = await request(upstream + req.url, { method: 'GET', dispatcher: agent });
    const body = await r.body.arrayBuffer();
    res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': body.byteLength });
    res.end(Buffer.from(body));
  } catch {
    res.writeHead(502).end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
