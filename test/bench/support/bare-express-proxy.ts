// What a team would write by hand: Express 5 + undici, no validation, metrics or logging.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { announce } from './ready.ts';

const upstream = process.argv[2];
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
const server = app.listen(0, '127.0.0.1', () => announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
server.keepAliveTimeout = 65_000;
