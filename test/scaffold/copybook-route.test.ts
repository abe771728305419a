/**
 * From a copybook to a served route, as a new team would go: `ficus scaffold copybook` on the
 * sample's products copybook, then only what a person writes by hand (two operations in the
 * contract that use the scaffolded schema, an sftp adapter binding them with a field-for-field map),
 * and the gateway serves a get and a list from the mainframe's export on a real OpenSSH server.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Gateway } from '../../src/gateway.ts';
import { scaffoldCopybook } from '../../src/scaffold/copybook-scaffold.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { writeProductExport } from '../../sample/mainframe/product-export.ts';
import { PROJECT_ROOT, startGateway } from '../helpers/gateway.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';

let sshd: Sshd;
let root: string;
beforeAll(async () => {
  sshd = await startSshd();
  root = mkdtempSync(join(tmpdir(), 'ficus-scaffold-route-'));
}, 60_000);
afterAll(async () => {
  await sshd?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('ficus scaffold copybook, to a first route', () => {
  it('the scaffolded ProductRecord, two operations and one adapter file written by hand: ficus check passes and the gateway serves a get and a list', async () => {
    const catalogue = sampleCatalogue(12);
    writeProductExport(sshd.root, catalogue, { at: new Date('2026-11-27T03:00:00Z') });

    writeFileSync(join(root, 'openapi.yaml'), 'openapi: 3.1.0\ninfo: { title: Products, version: 0.1.0 }\npaths: {}\n');
    writeFileSync(join(root, 'ficus.yaml'), stringify({ server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' }, state: { driver: 'sqlite', file: ':memory:' } }));
    const adapterDir = join(root, 'adapters', 'mainframe');
    mkdirSync(join(adapterDir, 'layouts'), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, 'adapters', 'mainframe-files', 'layouts', 'products.cpy'), join(adapterDir, 'layouts', 'products.cpy'));

    const { schemas } = scaffoldCopybook({ copybook: 'adapters/mainframe/layouts/products.cpy', project: root, cwd: root });
    const record = schemas.find((s) => s.type === 'detail')!;

    // By hand: the operations, in the contract...
    const contract = parse(readFileSync(join(root, 'openapi.yaml'), 'utf8')) as Record<string, unknown>;
    const ref = { $ref: `#/components/schemas/${record.name}` };
    const ok = (schema: unknown) => ({ '200': { description: 'OK', content: { 'application/json': { schema } } } });
    contract.paths = {
      '/product-records': {
        get: { operationId: 'listProductRecords', responses: ok({ type: 'object', properties: { items: { type: 'array', items: ref }, nextCursor: { type: ['string', 'null'] } } }) },
      },
      '/product-records/{sku}': {
        get: {
          operationId: 'getProductRecord',
          parameters: [{ name: 'sku', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { ...ok(ref), '404': { description: 'No such product' } },
        },
      },
    };
    writeFileSync(join(root, 'openapi.yaml'), stringify(contract));
    // ...and the adapter: where the drop is, which files, which record, its key, and the fields (one line each).
    const fields = Object.keys((record.schema as { properties: object }).properties);
    const read = { pattern: 'PRODUCTS.*.DAT', layout: 'layouts/products.yaml', record: 'detail', key: 'prSku' };
    const map = Object.fromEntries(fields.map((f) => [f, f]));
    writeFileSync(
      join(adapterDir, 'adapter.yaml'),
      stringify({
        kind: 'sftp',
        role: 'legacy',
        connection: { host: '${env:MF_HOST}', port: '${env:MF_PORT}', username: '${env:MF_USER}', privateKey: '${env:MF_KEY}', knownHosts: '${env:MF_KNOWN_HOSTS}' },
        operations: { getProductRecord: { read, map }, listProductRecords: { read, map } },
      }),
    );
    const env = { MF_HOST: sshd.host, MF_PORT: String(sshd.port), MF_USER: sshd.username, MF_KEY: sshd.privateKey, MF_KNOWN_HOSTS: sshd.knownHostsFile };

    expect(await Gateway.check({ root, env })).toEqual([]);
    const gw = await startGateway(root, env, { level: 'warn' });
    try {
      const first = catalogue[0];
      const one = await fetch(`${gw.url}/product-records/${first.sku}`);
      expect(one.status).toBe(200);
      expect(await one.json()).toMatchObject({
        prRecType: 'D',
        prSku: first.sku,
        prDescription: first.description,
        prUnitPrice: first.unitPrice,
        prStockQty: first.stockQuantity,
        prStatus: first.status,
      });
      const page = await fetch(`${gw.url}/product-records`);
      expect(page.status).toBe(200);
      const body = (await page.json()) as { items: { prSku: string }[]; nextCursor: string | null };
      expect(body.items.map((p) => p.prSku)).toEqual(catalogue.map((p) => p.sku).sort());
      expect((await fetch(`${gw.url}/product-records/XX-0000`)).status).toBe(404);
    } finally {
      await gw.close();
    }
  }, 120_000);
});
