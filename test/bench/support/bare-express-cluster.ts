// The bare Express 5 + undici proxy (bare-express-proxy.ts) in N processes sharing one port with node:cluster,
// as a team would scale it by hand: `node --import tsx bare-express-cluster.ts <upstream> <workers>`.
import cluster from 'node:cluster';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { announce } from './ready.ts';

const upstream = process.argv[2];
const workers = Number(process.argv[3] ?? 2);

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('message', (_worker, m: { port?: number }) => {
    if (m.port !== undefined && ++listening === workers) announce(`http://127.0.0.1:${m.port}`);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  const app = express();
  app.get('/customers/:id', async (req, res) => {
    try {
      const r = await request(`${upstream}/customers/${encodeURIComponent(req.params.id)}`, { method: 'GET', dispatcher: agent });
      res.status(r.statusCode).json(await r.body.json());
    } catch {
      res.status(502).end();
    }
  });
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  server.keepAliveTimeout = 65_000;
}
