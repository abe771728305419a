/**
 * The sample's customers migration, as `npm start` runs it once the gateway listens: the modern
 * customers service (started empty, sample/estate.ts) is subscribed to the CRM's change feed
 * (`customers`, adapters/crm-db) through RabbitMQ when the estate found it, else as a signed webhook, and backfilled with every current customer in
 * the background. From then on a clerk's edit in CUSTMAST (`ficus sample clerk-edit`) reaches modern
 * within the feed's poll interval. Returns the banner's lines.
 */
import type { Changes } from '../src/changes/install.ts';
import type { Gateway } from '../src/gateway.ts';

export const MODERN_SUBSCRIPTION = 'modern-customers';
const FEED = 'customers';

export async function startSampleMigration(gateway: Gateway, env: Record<string, string | undefined>): Promise<string[]> {
  const changes = gateway.feature<Changes>('changes');
  const feed = changes?.feeds.get(FEED);
  const url = env.CUSTOMERS_EVENTS_URL;
  const secret = env.CUSTOMERS_EVENTS_SECRET;
  if (!changes || !feed || !url || !secret) return [];
  // A subscription of an earlier run (another port, another secret) goes, with what it had not delivered.
  await changes.events.unsubscribe(MODERN_SUBSCRIPTION);
  const types = ['customer.updated', 'customer.deleted'];
  const exchange = env.CUSTOMERS_EVENTS_EXCHANGE;
  const amqpUrl = env.CUSTOMERS_EVENTS_AMQP_URL;
  if (exchange && amqpUrl) await changes.events.subscribe({ name: MODERN_SUBSCRIPTION, kind: 'amqp', url: amqpUrl, exchange, types, origin: 'api' });
  else await changes.events.subscribe({ name: MODERN_SUBSCRIPTION, kind: 'webhook', url, secret, types, origin: 'api' });
  const how = exchange ? `RabbitMQ exchange ${exchange}` : 'a signed webhook';
  const logger = gateway.logger.child({ component: 'sample-migration' });
  const started = performance.now();
  // In the background: the gateway serves meanwhile (customers' routes are on legacy). restart: the modern store is new each run.
  void feed
    .backfill({ subscription: MODERN_SUBSCRIPTION, restart: true })
    .then((n) => {
      changes.worker?.poke();
      logger.info({ events: n, ms: Math.round(performance.now() - started) }, 'sample migration: every CRM customer queued for the modern customers service');
    })
    .catch((err: unknown) => logger.warn({ error: (err as Error).message }, 'sample migration: the backfill stopped (ficus backfill customers --to modern-customers goes on)'));
  return [
    '',
    '  Customers migration (sample): the modern customers service started empty; it is being backfilled from the',
    `  CRM through the change feed "${FEED}" (subscription ${MODERN_SUBSCRIPTION}: ${how}; ficus events stats). Then try:`,
    "    ficus sample clerk-edit 1042 --name 'Renamed By A Clerk'   (a legacy edit; reaches modern within seconds)",
    '    ficus sample drift 1043                                    (a difference in modern only)',
    '    ficus reconcile getCustomer --keys-from listCustomers --sample   (parity; the dashboard shows the latest run)',
  ];
}
