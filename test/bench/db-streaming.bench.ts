/**
 * Issue 3's second figure: a list of 10,000 rows streamed with memory that does not grow with the
 * row count. The kind's page statement for listCustomers (adapters/crm-db, sorted by the keyset,
 * cut with the engine's LIMIT) is streamed through the driver's row iterator (pg-cursor on
 * PostgreSQL, an iterator on SQLite) and every row mapped to the contract's Customer and dropped,
 * for 10,000 and for 100,000 rows. The heap is sampled every 500 rows; for contrast the same rows
 * are read the buffered way (all rows, then all mapped).
 *
 *   npm run bench -- test/bench/db-streaming.bench.ts
 *
 * Target: the streamed peak heap growth is about the same for 10,000 and 100,000 rows (flat),
 * while the buffered one grows with the count.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse } from 'yaml';
import { DIALECTS, pageStatement } from '../../src/kinds/db/dialects.ts';
import { checkSingleRead } from '../../src/kinds/db/sql-text.ts';
import { compileMapping } from '../../src/kinds/db/row-mapping.ts';
import { createDriver } from '../../src/kinds/db/db-kind.ts';
import { dbConnectionSchema } from '../../src/kinds/db/db-config.ts';
import { legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';
import { createLegacyDatabase } from '../db/legacy-databases.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const SELECT = checkSingleRead(readFileSync(`${PROJECT_ROOT}adapters/crm-db/sql/list-customers.sql`, 'utf8'));
const MAP = parse(readFileSync(`${PROJECT_ROOT}adapters/crm-db/mapping/customer.yaml`, 'utf8'));
const ORDER = ['LAST_UPD_DT', 'LAST_UPD_TM', 'CUST_NO'].map((column) => ({ column, descending: false }));
const MB = (n: number) => (n / 1024 / 1024).toFixed(1);

async function run(engine: 'sqlite' | 'postgres', counts: number[]): Promise<string[]> {
  const max = Math.max(...counts);
  const db = await createLegacyDatabase(engine, legacyCustomerRows(max));
  const conn = dbConnectionSchema.parse(
    engine === 'sqlite' ? { driver: 'sqlite', file: db.target, fetchSize: 500 } : { driver: 'postgres', url: db.target, fetchSize: 500, statementTimeoutMs: 60_000 },
  );
  const driver = await createDriver(conn, 'bench', PROJECT_ROOT);
  const statement = pageStatement(DIALECTS[driver.dialect], SELECT, ORDER, { after: false, offset: false });
  const signal = new AbortController().signal;
  const out: string[] = [];
  try {
    for (const count of counts) {
      const values = statement.order.map((n) => (n === 'ficus_limit' ? count : 0));
      // Streamed: one row at a time, mapped and dropped.
      const mapper = compileMapping(MAP);
      gc();
      const base = process.memoryUsage().heapUsed;
      let peak = 0;
      let n = 0;
      let checksum = 0;
      const t0 = performance.now();
      for await (const row of driver.stream(statement.text, values, { signal })) {
        const c = mapper.map(row) as { id: number };
        checksum += c.id;
        if (++n % 500 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - base);
      }
      const streamedMs = performance.now() - t0;
      // Buffered, for contrast: every row, then every customer, held at once.
      const mapper2 = compileMapping(MAP);
      gc();
      const base2 = process.memoryUsage().heapUsed;
      const t1 = performance.now();
      const rows = await driver.query(statement.text, values, { signal });
      const mapped = rows.map((r) => mapper2.map(r));
      const bufferedPeak = process.memoryUsage().heapUsed - base2;
      const bufferedMs = performance.now() - t1;
      if (mapped.length !== n) throw new Error(`streamed ${n} rows, buffered ${mapped.length}`);
      out.push(
        `  ${String(count).padStart(7)} rows: streamed peak heap growth ${MB(peak).padStart(6)} MB in ${streamedMs.toFixed(0).padStart(5)} ms (${((n / streamedMs) * 1000).toFixed(0)} rows/s); buffered ${MB(bufferedPeak).padStart(6)} MB in ${bufferedMs.toFixed(0)} ms  [checksum ${checksum}]`,
      );
      rows.length = 0;
    }
  } finally {
    await driver.close();
    await db.drop();
  }
  return out;
}

const lines: string[] = [];
for (const engine of ['sqlite', 'postgres'] as const) {
  lines.push(`${engine}:`, ...(await run(engine, [10_000, 100_000])));
}
process.stdout.write(lines.join('\n') + '\n');
