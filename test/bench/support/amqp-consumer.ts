/**
 * The change feed bench's RabbitMQ consumer, in a process of its own so that the bench's RSS is the
 * gateway's alone (the consumer's set of 100,000 event ids is the bench's, not the gateway's).
 * Forked with an IPC channel: it binds an exclusive queue to the exchange named in its argv, says
 * `{ ready: true }`, then `{ distinct }` every 100 ms; after the parent sends `'watch'`, also
 * `{ subject, at }` for each message (at: epoch milliseconds, sub-millisecond).
 */
import amqp from 'amqplib';

const exchange = process.argv[2];
const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
const ch = await conn.createChannel();
await ch.assertExchange(exchange, 'topic', { durable: true });
const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
await ch.bindQueue(q.queue, exchange, '#');
await ch.prefetch(1000);
const ids = new Set<string>();
let watch = false;
const send = (m: unknown) => process.send?.(m);
await ch.consume(q.queue, (m) => {
  if (!m) return;
  ids.add(String(m.properties.messageId));
  if (watch) send({ subject: String((m.properties.headers as Record<string, unknown> | undefined)?.subject ?? ''), at: performance.timeOrigin + performance.now() });
  ch.ack(m);
});
const timer = setInterval(() => send({ distinct: ids.size }), 100);
process.on('message', (m) => {
  if (m === 'watch') watch = true;
  if (m === 'close') {
    clearInterval(timer);
    void ch
      .deleteExchange(exchange)
      .catch(() => undefined)
      .then(() => conn.close())
      .finally(() => process.exit(0));
  }
});
send({ ready: true });
