// Fails when src/contract/types.ts no longer matches openapi.yaml (run `npm run contract:types`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'ficus-contract-'));
try {
  const fresh = join(dir, 'types.ts');
  execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', 'openapi.yaml', '-o', fresh], { stdio: 'pipe' });
  const committed = readFileSync('src/contract/types.ts', 'utf8');
  if (readFileSync(fresh, 'utf8') !== committed) {
    console.error('src/contract/types.ts has drifted from openapi.yaml: run `npm run contract:types` and commit the result.');
    process.exit(1);
  }
  console.log('contract types match openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
