/**
 * `npm run conformance [openapi|copybooks]`: runs the shared corpus of inputs from outside the
 * project (`../shared/conformance`, or the folder in FICUS_CONFORMANCE_DIR) through Ficus and prints
 * the figures docs/conformance.md reports. On demand only: `npm test` never depends on it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = resolve(process.env.FICUS_CONFORMANCE_DIR ?? join(here, '../../../shared/conformance'));
if (!existsSync(corpus)) {
  console.error(`conformance: no corpus at ${corpus}; put ../shared beside the project or set FICUS_CONFORMANCE_DIR`);
  process.exit(2);
}

type Part = { main(corpus: string): Promise<boolean> };
const parts: Record<string, () => Promise<Part>> = {
  openapi: () => import('./openapi.ts'),
  copybooks: () => import('./copybooks.ts'),
};
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in parts)) {
    console.error(`conformance: no part named ${name}; the parts are ${Object.keys(parts).join(', ')}`);
    process.exit(2);
  }
}
let ok = true;
for (const name of wanted.length > 0 ? wanted : Object.keys(parts)) {
  console.log(`\n# ${name}`);
  ok = (await (await parts[name]()).main(corpus)) && ok;
}
process.exit(ok ? 0 : 1);
