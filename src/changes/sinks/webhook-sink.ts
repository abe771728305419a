/**
 * Webhooks signed as the Standard Webhooks specification says: `webhook-id` (the event id, the same
 * on every retry), `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body" with the base64-decoded secret after `whsec_`>`. A 2xx answer is delivery;
 * anything else, or no answer within the timeout, is a failure to retry.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import type { StoredEvent } from '../cloud-event.ts';
import type { BatchOutcome, Sink } from './sink.ts';

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** Checks a received webhook (what a consumer does): the signature and a timestamp within `toleranceSeconds`. */
export function verifyWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string, toleranceSeconds = 300, nowMs = Date.now()): boolean {
  const one = (h: string) => {
    const v = headers[h];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const ts = Number(one('webhook-timestamp'));
  const sigs = one('webhook-signature');
  if (!id || !Number.isInteger(ts) || !sigs) return false;
  if (Math.abs(nowMs / 1000 - ts) > toleranceSeconds) return false;
  const expected = signWebhook(secret, id, ts, body);
  return sigs.split(' ').some((s) => s === expected);
}

export class WebhookSink implements Sink {
  private readonly agent = new Agent({ connections: 16, keepAliveTimeout: 10_000 });

  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs: number,
    private readonly maxInFlight = 500,
    private readonly onPublish?: (inFlight: number) => void,
  ) {}

  /** At most `maxInFlight` calls at a time: the next event's body is made when a call ends. */
  async deliver(events: readonly StoredEvent[], signal: AbortSignal): Promise<BatchOutcome> {
    const outcome: BatchOutcome = new Array<string | undefined>(events.length);
    let next = 0;
    let inFlight = 0;
    const lane = async () => {
      while (next < events.length) {
        const i = next++;
        inFlight++;
        this.onPublish?.(inFlight);
        outcome[i] = await this.one(events[i], signal);
        inFlight--;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxInFlight, events.length) }, lane));
    return outcome;
  }

  private async one(e: StoredEvent, signal: AbortSignal): Promise<string | undefined> {
    const body = e.json;
    const ts = Math.floor(Date.now() / 1000);
    try {
      const res = await request(this.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/cloudevents+json',
          'webhook-id': e.id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook(this.secret, e.id, ts, body),
        },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? undefined : `the endpoint answered ${res.statusCode}`;
    } catch (err) {
      return `no answer from the endpoint: ${(err as Error).message}`;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
