/**
 * RabbitMQ (AMQP 0-9-1) through amqplib with publisher confirms: a batch is published on a confirm
 * channel (persistent messages, the event id as message id, the type as routing key on a durable
 * topic exchange) and counts as delivered only once the broker confirmed it. A lost connection
 * fails the batch (retried later: a consumer may then see an event twice, with the same id) and the
 * next batch connects again.
 *
 * Backpressure: at most `maxInFlight` messages are published and not yet confirmed; the next waits
 * for a confirm, and for amqplib's write buffer to drain when `publish` says it is full. So the bytes
 * held for the broker are bounded by the window, not by the batch, however far the publisher is ahead.
 * `timeoutMs` bounds the wait for the next confirm (not the whole batch).
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { StoredEvent } from '../cloud-event.ts';
import type { BatchOutcome, Sink } from './sink.ts';

interface Conn {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Called once when the connection or the channel closes; a batch adds itself and removes itself when done. */
  onClosed: Set<() => void>;
  isClosed: boolean;
}

const NOT_CONFIRMED = 'not confirmed';
const CLOSED = 'the broker connection closed before confirming';

export interface AmqpSinkOptions {
  url: string;
  exchange: string;
  timeoutMs: number;
  /** Messages published and not yet confirmed, at most. */
  maxInFlight: number;
  /** Told the number in flight after each publish (metrics, tests). */
  onPublish?: (inFlight: number) => void;
}

export class AmqpSink implements Sink {
  private conn: Conn | undefined;
  private connecting: Promise<Conn> | undefined;

  constructor(private readonly opts: AmqpSinkOptions) {}

  private async connect(): Promise<Conn> {
    if (this.conn) return this.conn;
    this.connecting ??= (async () => {
      const model = await amqp.connect(this.opts.url, { timeout: this.opts.timeoutMs });
      const c: Conn = { model, channel: undefined as unknown as ConfirmChannel, onClosed: new Set(), isClosed: false };
      const closed = () => {
        if (this.conn === c) this.conn = undefined;
        if (c.isClosed) return;
        c.isClosed = true;
        for (const f of c.onClosed) f();
        c.onClosed.clear();
      };
      model.on('error', closed);
      model.on('close', closed);
      c.channel = await model.createConfirmChannel();
      c.channel.on('error', closed);
      c.channel.on('close', closed);
      await c.channel.assertExchange(this.opts.exchange, 'topic', { durable: true });
      this.conn = c;
      return c;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async deliver(events: readonly StoredEvent[], signal: AbortSignal): Promise<BatchOutcome> {
    let c: Conn;
    try {
      c = await this.connect();
    } catch (err) {
      return events.map(() => `cannot reach the broker: ${(err as Error).message}`);
    }
    const ch = c.channel;
    const outcome: BatchOutcome = events.map(() => NOT_CONFIRMED);
    let inFlight = 0;
    // Whatever the batch waits for (a confirm, a drain) is woken by `wake`; `failure` ends the batch.
    let failure: string | undefined;
    let waiting: (() => void) | undefined;
    const wake = () => {
      const w = waiting;
      waiting = undefined;
      w?.();
    };
    let timer: NodeJS.Timeout | undefined;
    const progress = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ((failure ??= 'the broker did not confirm in time'), wake()), this.opts.timeoutMs);
    };
    const onClosed = () => ((failure ??= CLOSED), wake());
    const onAbort = () => ((failure ??= 'the broker did not confirm in time'), wake());
    // amqplib keeps what it cannot write yet: after `publish` says its buffer is full, wait for it to drain.
    let writable = true;
    const onDrain = () => ((writable = true), wake());
    if (c.isClosed) onClosed();
    c.onClosed.add(onClosed);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    ch.on('drain', onDrain);
    const until = async (ready: () => boolean) => {
      while (!ready() && failure === undefined) await new Promise<void>((r) => (waiting = r));
    };
    progress();
    try {
      for (let i = 0; i < events.length && failure === undefined; i++) {
        await until(() => inFlight < this.opts.maxInFlight && writable);
        if (failure !== undefined) break;
        const e = events[i];
        try {
          inFlight++;
          writable = ch.publish(
            this.opts.exchange,
            e.type,
            Buffer.from(e.json),
            { persistent: true, messageId: e.id, type: e.type, contentType: 'application/cloudevents+json', timestamp: Math.floor(Date.now() / 1000), headers: { subject: e.subject } },
            (err: unknown) => {
              inFlight--;
              // amqplib fails the unconfirmed ones with 'channel closed' when the channel or the connection goes.
              outcome[i] = !err ? undefined : (err as Error).message === 'channel closed' ? CLOSED : `the broker refused the message: ${String(err)}`;
              progress();
              wake();
            },
          );
        } catch (err) {
          inFlight--;
          outcome[i] = `could not publish: ${(err as Error).message}`;
          continue;
        }
        this.opts.onPublish?.(inFlight);
      }
      await until(() => inFlight === 0);
    } finally {
      clearTimeout(timer);
      c.onClosed.delete(onClosed);
      signal.removeEventListener('abort', onAbort);
      ch.off('drain', onDrain);
    }
    if (failure !== undefined) {
      if (this.conn === c) this.conn = undefined;
      void c.model.close().catch(() => undefined);
      // The confirmed ones arrived; the rest failed (the broker may have some: a retry can repeat one, same id).
      const why = failure;
      return outcome.map((o) => (o === NOT_CONFIRMED ? why : o));
    }
    return outcome;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.model.close().catch(() => undefined);
  }
}
