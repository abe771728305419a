/**
 * RabbitMQ (AMQP 0-9-1) through amqplib with publisher confirms: a batch is published on a confirm
 * channel (persistent messages, the event id as message id, the type as routing key on a durable
 * topic exchange) and counts as delivered only once the broker confirmed it. A lost connection
 * fails the batch (retried later: a consumer may then see an event twice, with the same id) and the
 * next batch connects again.
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { CloudEvent } from '../cloud-event.ts';
import type { BatchOutcome, Sink } from './sink.ts';

interface Conn {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Resolves when the connection or the channel closes. */
  closed: Promise<'closed'>;
}

export class AmqpSink implements Sink {
  private conn: Conn | undefined;
  private connecting: Promise<Conn> | undefined;

  constructor(
    private readonly url: string,
    private readonly exchange: string,
    private readonly timeoutMs: number,
  ) {}

  private async connect(): Promise<Conn> {
    if (this.conn) return this.conn;
    this.connecting ??= (async () => {
      const model = await amqp.connect(this.url, { timeout: this.timeoutMs });
      const drop = () => {
        if (this.conn?.model === model) this.conn = undefined;
      };
      model.on('error', drop);
      model.on('close', drop);
      const closedModel = new Promise<'closed'>((resolve) => model.once('close', () => resolve('closed')));
      const channel = await model.createConfirmChannel();
      channel.on('error', drop);
      channel.on('close', drop);
      const closed = Promise.race([closedModel, new Promise<'closed'>((resolve) => channel.once('close', () => resolve('closed')))]);
      await channel.assertExchange(this.exchange, 'topic', { durable: true });
      this.conn = { model, channel, closed };
      return this.conn;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async deliver(events: readonly CloudEvent[], signal: AbortSignal): Promise<BatchOutcome> {
    let c: Conn;
    try {
      c = await this.connect();
    } catch (err) {
      return events.map(() => `cannot reach the broker: ${(err as Error).message}`);
    }
    const ch = c.channel;
    const results = events.map((e) => {
      return new Promise<string | undefined>((resolve) => {
        try {
          ch.publish(
            this.exchange,
            e.type,
            Buffer.from(JSON.stringify(e)),
            { persistent: true, messageId: e.id, type: e.type, contentType: 'application/cloudevents+json', timestamp: Math.floor(Date.now() / 1000), headers: { subject: e.subject } },
            (err: unknown) => resolve(err ? `the broker refused the message: ${String(err)}` : undefined),
          );
        } catch (err) {
          resolve(`could not publish: ${(err as Error).message}`);
        }
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs)));
    const onAbort = new AbortController();
    const aborted = new Promise<'timeout'>((resolve) => signal.addEventListener('abort', () => resolve('timeout'), { once: true, signal: onAbort.signal }));
    const all = await Promise.race([Promise.all(results), timeout, aborted, c.closed]);
    clearTimeout(timer);
    onAbort.abort();
    if (all === 'timeout' || all === 'closed') {
      if (this.conn === c) this.conn = undefined;
      void c.model.close().catch(() => undefined);
      return events.map(() => (all === 'closed' ? 'the broker connection closed before confirming' : 'the broker did not confirm in time'));
    }
    return all;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.model.close().catch(() => undefined);
  }
}
