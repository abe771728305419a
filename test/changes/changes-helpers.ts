/** Helpers of the change feed tests: the changes fixture gateway over a fresh legacy CRM, a webhook receiver. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { ChannelModel } from 'amqplib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyWebhook } from '../../src/changes/sinks/webhook-sink.ts';
import type { CloudEvent } from '../../src/changes/cloud-event.ts';
import { FIXTURES, startGateway, startHttpServer } from '../helpers/gateway.ts';
import { createLegacyDatabase } from '../db/legacy-databases.ts';
import type { LegacyEngine } from '../../sample/legacy-crm/seed.ts';
import type { LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';
import type { LegacyTarget } from '../../sample/legacy-crm/clerk.ts';

export const CHANGES_FIXTURE = join(FIXTURES, 'changes-gateway');
export const ADMIN_TOKEN = 'changes-test-token-0123456789';
export const HOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export async function legacyCrm(engine: LegacyEngine = 'sqlite', rows?: LegacyCustomerRow[]) {
  const db = await createLegacyDatabase(engine, rows);
  const target: LegacyTarget = engine === 'sqlite' ? { driver: 'sqlite', file: db.target } : { driver: 'postgres', url: db.target };
  return { ...db, target };
}

export function stateDir() {
  const dir = mkdtempSync(join(tmpdir(), 'ficus-changes-'));
  return { file: join(dir, 'state.sqlite'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Received {
  event: CloudEvent;
  headers: Record<string, string | string[] | undefined>;
  valid: boolean;
}

/** A webhook endpoint that checks each call's Standard Webhooks signature; `answer` picks the status. */
export async function webhookReceiver(answer: (e: CloudEvent, n: number) => number = () => 204) {
  const received: Received[] = [];
  let n = 0;
  const server = await startHttpServer((req, res, body) => {
    const event = JSON.parse(body) as CloudEvent;
    received.push({ event, headers: req.headers, valid: verifyWebhook(HOOK_SECRET, req.headers, body) });
    res.writeHead(answer(event, ++n)).end();
  });
  return { ...server, received };
}

export async function startChangesGateway(env: Record<string, string>, file?: string) {
  return startGateway(CHANGES_FIXTURE, { HOOK_SECRET, FICUS_ADMIN_TOKENS: `ops:${ADMIN_TOKEN}`, ...env }, { file, adminServer: true });
}

export async function admin(url: string, path: string, method = 'GET', body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

/** After a test that published to RabbitMQ: deletes its exchange and closes its consumer's connection. */
export async function dropExchange(consumer: ChannelModel | undefined, exchange: string): Promise<void> {
  if (!consumer) return;
  const ch = await consumer.createChannel();
  await ch.deleteExchange(exchange).catch(() => undefined);
  await consumer.close();
}
