/**
 * `ficus init [dir]`: a new, empty Ficus project that `ficus check` accepts as it is: the gateway's
 * settings (state in a SQLite file), an OpenAPI 3.1 contract with no paths yet, folders for
 * adapters, recordings and copybook layouts, a CI workflow, a README and a package.json; none of
 * the sample estate. The scaffolds (ficus scaffold db|copybook|screen) fill it from there.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface InitOptions {
  dir: string;
  /** Write into a folder that is not empty (files already there are kept, never replaced). */
  force?: boolean;
  /** The API's title in openapi.yaml (default: from the folder's name). */
  title?: string;
  /** How package.json names Ficus (default: this installation, as a file: dependency). */
  ficusPackage?: string;
}

export interface InitResult {
  root: string;
  written: string[];
  /** Files that were there already and were kept. */
  kept: string[];
}

export class InitError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}\n  fix: ${fix}`);
    this.name = 'InitError';
  }
}

/** This Ficus installation's folder (where package.json is). */
export const FICUS_HOME = fileURLToPath(new URL('../../', import.meta.url));

function gatewayYaml(): string {
  return `# The gateway's own settings; \`ficus check\` checks them with the contract and every adapter.
# Adapters live in adapters/<name>/adapter.yaml; the contract is openapi.yaml.
contract: openapi.yaml
adaptersDir: adapters
server:
  port: \${env:PORT:-8080}
  # This machine only unless HOST says otherwise (HOST=0.0.0.0 for every interface).
  host: \${env:HOST:-127.0.0.1}
  bodyLimit: 1mb
log:
  level: \${env:LOG_LEVEL:-info}
# The admin API and the migration dashboard, on their own port, never on the public one.
# Tokens: FICUS_ADMIN_TOKENS=alice:<token>,deploy-bot:<token>.
admin:
  port: \${env:FICUS_ADMIN_PORT:-8090}
  host: \${env:FICUS_ADMIN_HOST:-127.0.0.1}
# Run-time state (route modes, idempotency keys, the outbox, consumers): a SQLite file, or
# { driver: postgres, url: \${env:FICUS_STATE_URL} } when several instances share it.
state:
  driver: sqlite
  file: var/ficus-state.sqlite
# Each route's mode at start-up (legacy, shadow, canary, fallback, modern). A route that only a
# legacy adapter serves is legacy; list one here to migrate it, e.g.
#   getCustomer: { mode: shadow }
routes: {}
# Recorded exchanges for replay (ficus record start <operationId>, ficus replay).
recording:
  dir: recordings
`;
}

function contractYaml(title: string): string {
  return `openapi: 3.1.0
info:
  title: ${JSON.stringify(title)}
  version: 0.1.0
  description: |
    The contract this Ficus gateway serves. Draft resources from the legacy systems with
    \`ficus scaffold db\` (a table), \`ficus scaffold copybook\` (a record layout) and
    \`ficus scaffold screen\` (a web page), then edit them here: this file is the source of truth.
servers:
  - url: http://127.0.0.1:8080
paths: {}
components:
  schemas: {}
`;
}

function ciYaml(): string {
  return `# Checks the project on every push: the config, the contract and every adapter (ficus check, which
# starts nothing), then the recorded exchanges replayed against the modern services once there are
# recordings (ficus replay exits 1 on any difference).
name: ficus
on: [push, pull_request]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: npm install --no-audit --no-fund
      # Variables the adapters read (passwords, URLs) come from the repository's secrets.
      - run: npx ficus check
      - name: replay the recordings
        if: \${{ hashFiles('recordings/**/*.jsonl') != '' }}
        run: npx ficus replay --against modern --junit replay-report.xml
`;
}

function readmeMd(title: string): string {
  return `# ${title}

A [Ficus](https://ficus.dev) project: a REST API, described by \`openapi.yaml\`, served from legacy
systems by the adapters in \`adapters/\`, and migrated route by route to modern services.

\`\`\`sh
npm install                       # Ficus itself (package.json)
npx ficus check                   # the settings, the contract and every adapter, without starting anything
npx ficus start                   # the gateway on http://127.0.0.1:8080 (admin API and dashboard on :8090)
\`\`\`

First drafts from the legacy systems themselves (each guess is explained in a comment of the files written):

\`\`\`sh
npx ficus scaffold db --adapter crm-db --driver sqlite --file crm.sqlite --table CUSTMAST
npx ficus scaffold copybook layouts/ORDERS.cpy
npx ficus scaffold screen --url https://legacy.example/login
\`\`\`

| where | what |
|---|---|
| \`ficus.yaml\` | the gateway's settings: server, admin API, state store (SQLite in \`var/\`), routes' modes, recording |
| \`openapi.yaml\` | the contract |
| \`adapters/<name>/\` | one legacy or modern system: \`adapter.yaml\`, its SQL, mappings, layouts, flows |
| \`layouts/\` | copybooks to scaffold record layouts from |
| \`recordings/\` | recorded exchanges, replayed by CI (\`.github/workflows/ficus.yml\`) |
`;
}

function packageJson(name: string, ficus: string): string {
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { check: 'ficus check', start: 'ficus start', replay: 'ficus replay --against modern' },
    devDependencies: { ficus: ficus },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const GITIGNORE = `node_modules/
# The state store, sample databases, screen evidence: run-time files.
var/
`;

const KEEP = '';

export function initProject(opts: InitOptions): InitResult {
  const root = resolve(opts.dir);
  if (existsSync(root)) {
    const entries = readdirSync(root).filter((e) => e !== '.git');
    if (entries.length > 0 && !opts.force) {
      throw new InitError(
        `${root} is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', …' : ''})`,
        'give an empty or new folder, or --force to add the missing files (files already there are kept)',
      );
    }
  }
  mkdirSync(root, { recursive: true });
  const folder = basename(root);
  const title = opts.title ?? `${folder} API`;
  const name =
    folder
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'ficus-project';
  const files: [string, string][] = [
    ['ficus.yaml', gatewayYaml()],
    ['openapi.yaml', contractYaml(title)],
    ['adapters/.gitkeep', KEEP],
    ['recordings/.gitkeep', KEEP],
    ['layouts/.gitkeep', KEEP],
    ['.github/workflows/ficus.yml', ciYaml()],
    ['README.md', readmeMd(title)],
    ['package.json', packageJson(name, opts.ficusPackage ?? `file:${FICUS_HOME.replace(/\/$/, '')}`)],
    ['.gitignore', GITIGNORE],
  ];
  const written: string[] = [];
  const kept: string[] = [];
  for (const [file, text] of files) {
    const path = join(root, file);
    if (existsSync(path)) {
      kept.push(file);
      continue;
    }
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    written.push(file);
  }
  return { root, written, kept };
}
