/**
 * The adapter's part of a db scaffold: the two SQL files (a get by key; the list's SELECT, which the
 * kind pages by a keyset on the key), the row mapping with a comment per field, and the two
 * bindings, in a new adapter.yaml or added under `operations:` of the adapter's own.
 */
import { isScalar, type Document, type YAMLMap } from 'yaml';
import type { DbConnection } from '../kinds/db/db-config.ts';
import type { DialectName } from '../kinds/db/dialects.ts';
import type { ContractPlan } from './db-contract.ts';
import type { FieldNode, ResourceModel } from './db-resource.ts';
import { qualifiedTable } from './db-sample.ts';
import { familyOf } from './db-types.ts';
import { flowLeaves, yamlText } from './yaml-edit.ts';

export interface AdapterFileNames {
  getSql: string;
  listSql: string;
  mapping: string;
}

export function fileNames(model: ResourceModel): AdapterFileNames {
  const kebab = model.name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return { getSql: `sql/get-${kebab}.sql`, listSql: `sql/list-${model.collection}.sql`, mapping: `mapping/${kebab}.yaml` };
}

/** The select list, a few columns a line. */
function selectList(model: ResourceModel): string {
  const lines: string[] = [];
  let line = '';
  for (const s of model.select) {
    const next = line === '' ? s.expr : `${line}, ${s.expr}`;
    if (next.length > 90 && line !== '') {
      lines.push(`${line},`);
      line = s.expr;
    } else line = next;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? `SELECT ${l}` : `       ${l}`)).join('\n');
}

export function getSql(dialect: DialectName, model: ResourceModel, plan: ContractPlan, header: string): string {
  const where = model.key.map((k, i) => `${k.expr.split(' AS ')[0]} = :${model.keyParams[i]}`).join('\n   AND ');
  return [
    `-- ${header}`,
    `-- ${plan.getOperation}: one row of ${model.table.name} by its key. Every column of the table is read;`,
    `-- drop the ones the contract does not need (and their fields in the mapping).`,
    selectList(model),
    `  FROM ${qualifiedTable(dialect, model.table)}`,
    ` WHERE ${where}`,
    '',
  ].join('\n');
}

export function listSql(dialect: DialectName, model: ResourceModel, plan: ContractPlan, header: string): string {
  return [
    `-- ${header}`,
    `-- ${plan.listOperation}: every row of ${model.table.name}. No ORDER BY and no LIMIT: Ficus sorts and cuts each page by`,
    `-- the binding's page.orderBy (${model.key.map((k) => k.ref).join(', ')}, the key), and a cursor starts the next page after the last`,
    `-- key of the one before (keyset paging). A WHERE for a filter goes here, with :named parameters.`,
    selectList(model),
    `  FROM ${qualifiedTable(dialect, model.table)}`,
    '',
  ].join('\n');
}

function mappingNode(doc: Document, fields: readonly FieldNode[]): YAMLMap {
  const map = doc.createNode({}) as YAMLMap;
  for (const f of fields) {
    const value = f.children ? mappingNode(doc, f.children) : doc.createNode(f.mapping, { flow: true });
    const pair = doc.createPair(f.name, value);
    if (f.why && isScalar(pair.key)) pair.key.commentBefore = ` ${f.why}`;
    map.items.push(pair);
  }
  return map;
}

export function mappingYaml(model: ResourceModel, header: string): string {
  const head = [
    `# ${header}`,
    `# ${model.table.name} row → the contract's ${model.name}. Columns are matched without regard to case; the`,
    "# conversions are the db kind's (docs/adapters/db.md): text trims CHAR padding, flag reads Y/N, enum maps codes.",
    '',
  ].join('\n');
  return head + yamlText((doc) => mappingNode(doc, model.fields));
}

/** The `operations:` entries of the two bindings. */
export function bindingEntries(model: ResourceModel, plan: ContractPlan, files: AdapterFileNames): string[] {
  const params = Object.fromEntries(
    model.key.map((k, i) => {
      const name = model.keyParams[i];
      const c = k.column;
      // A CHAR key is compared padded on engines that do not pad (SQLite): the value is padded to the column's width.
      const char = familyOf(c) === 'text' && /^(char|character|nchar|bpchar)$/.test(c.type) && c.length !== undefined;
      return [name, char ? { from: `path.${name}`, as: 'char', width: c.length } : `path.${name}`];
    }),
  );
  const entity = model.name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  const get = yamlText((doc) => {
    const top = doc.createNode({}) as YAMLMap;
    const binding = doc.createNode({ sql: files.getSql, params, map: files.mapping, notFound: `no ${entity} ${model.keyParams.map((p) => `{${p}}`).join(' ')}` });
    flowLeaves(binding);
    const pair = doc.createPair(plan.getOperation, binding);
    if (isScalar(pair.key)) pair.key.commentBefore = ` Drafted by ficus scaffold db: ${model.table.name} by its key.`;
    top.items.push(pair);
    return top;
  });
  const list = yamlText((doc) => {
    const top = doc.createNode({}) as YAMLMap;
    const orderBy = doc.createNode(
      model.key.map((k) => k.ref),
      { flow: true },
    );
    const page = doc.createNode({ orderBy: [], defaultLimit: plan.defaultLimit, maxLimit: plan.maxLimit }) as YAMLMap;
    page.set('orderBy', orderBy);
    const pair = doc.createPair(plan.listOperation, doc.createNode({ sql: files.listSql, result: 'page', map: files.mapping, page }));
    if (isScalar(pair.key)) pair.key.commentBefore = ` Drafted by ficus scaffold db: ${model.table.name} a page at a time, by a keyset on its key (the contract's limit and cursor).`;
    top.items.push(pair);
    return top;
  });
  return [get, list];
}

/** `crm-db` → `CRM_DB`: the prefix of the adapter's environment variables. */
export function envPrefix(adapter: string): string {
  return adapter.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** A new adapter.yaml for the connection given on the command line, each setting overridable from the environment. */
export function newAdapterYaml(adapter: string, connection: DbConnection, table: string, header: string, fileSetting?: string, urlSetting?: string): string {
  const env = envPrefix(adapter);
  const lines = [
    `# ${header}`,
    `# The legacy database behind ${table}, read-only. Give the gateway a database user that can only read.`,
    'kind: db',
    'role: legacy',
    `description: ${table} (drafted by ficus scaffold db)`,
    'connection:',
    `  driver: ${connection.driver}`,
  ];
  if (connection.driver === 'sqlite') lines.push(`  file: \${env:${env}_FILE:-${fileSetting ?? connection.file ?? ''}}`);
  else if (urlSetting !== undefined) lines.push(`  url: ${urlSetting}`);
  if (connection.driver === 'mssql') lines.push(`  encrypt: \${env:${env}_ENCRYPT:-${String(connection.encrypt)}}        # TLS to the server`);
  lines.push(`  # Signs page cursors; set it in production (16 characters or more).`, `  cursorKey: \${env:${env}_CURSOR_KEY:-}`);
  return `${lines.join('\n')}\n`;
}
