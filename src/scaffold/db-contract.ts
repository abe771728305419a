/**
 * The contract's part of a db scaffold, added to openapi.yaml without touching what is there: the
 * resource schema (each field with a comment saying which column it comes from and what was
 * guessed), its page schema, a get by key and a list with cursor paging (as the sample's
 * getCustomer and listCustomers), and the shared components they use (Limit, Cursor, the Problem
 * schema and responses) where the contract lacks them.
 */
import { isMap, isScalar, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { plural } from './db-names.ts';
import type { FieldNode, ResourceModel } from './db-resource.ts';
import type { JsonSchema } from './db-types.ts';
import { addEntries, flowLeaves, yamlText } from './yaml-edit.ts';

export interface ContractPlan {
  getOperation: string;
  listOperation: string;
  itemPath: string;
  collectionPath: string;
  /** The page sizes, from the contract's Limit parameter when it has one. */
  defaultLimit: number;
  maxLimit: number;
}

export class ContractConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractConflict';
  }
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

function fieldsNode(doc: Document, fields: readonly FieldNode[]): YAMLMap {
  const props = doc.createNode({}) as YAMLMap;
  for (const f of fields) {
    const value = f.children ? objectNode(doc, f.children) : (doc.createNode(f.schema, { flow: true }) as Node);
    const pair = doc.createPair(f.name, value);
    if (f.why && isScalar(pair.key)) pair.key.commentBefore = ` ${f.why}`;
    props.items.push(pair);
  }
  return props;
}

function objectNode(doc: Document, fields: readonly FieldNode[]): YAMLMap {
  const node = doc.createNode({ type: 'object', additionalProperties: false }) as YAMLMap;
  const required = doc.createNode(
    fields.map((f) => f.name),
    { flow: true },
  );
  node.set('required', required);
  node.set('properties', fieldsNode(doc, fields));
  return node;
}

/** The schema's entry `Customer: …` with its comments. */
export function resourceSchemaEntry(model: ResourceModel, header: string): string {
  return yamlText((doc) => {
    const top = doc.createNode({}) as YAMLMap;
    const pair = doc.createPair(model.name, objectNode(doc, model.fields));
    if (isScalar(pair.key)) pair.key.commentBefore = header;
    top.items.push(pair);
    return top;
  });
}

function pageSchema(model: ResourceModel): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['items', 'nextCursor'],
    properties: {
      items: { type: 'array', items: ref('schemas', model.name) },
      nextCursor: { type: ['string', 'null'], description: 'Opaque: pass it as `cursor` for the next page; null on the last page.', 'x-ficus-ignore': true },
    },
  };
}

/** Writes a map entry with flow style for the small leaves (`{ $ref: … }`, `{ type: string }`). */
function entry(key: string, value: unknown, comment?: string): string {
  return yamlText((doc) => {
    const top = doc.createNode({}) as YAMLMap;
    const node = doc.createNode(value) as Node;
    flowLeaves(node);
    const pair = doc.createPair(key, node);
    if (comment && isScalar(pair.key)) pair.key.commentBefore = comment;
    top.items.push(pair);
    return top;
  });
}

/** Names the scaffold would add to the contract that it already has: refused (nothing is replaced). */
export function contractConflicts(text: string, model: ResourceModel, plan: ContractPlan): string[] {
  const doc = parseDocument(text);
  const out: string[] = [];
  const has = (path: string[]) => doc.hasIn(path);
  for (const [path, what] of [
    [['components', 'schemas', model.name], `components.schemas.${model.name}`],
    [['components', 'schemas', `${model.name}Page`], `components.schemas.${model.name}Page`],
    [['paths', plan.collectionPath, 'get'], `paths.${plan.collectionPath}.get`],
    [['paths', plan.itemPath, 'get'], `paths.${plan.itemPath}.get`],
  ] as [string[], string][]) {
    if (has(path)) out.push(what);
  }
  const ids = new Set<string>();
  const paths = doc.get('paths');
  if (isMap(paths)) {
    for (const p of paths.items) {
      if (!isMap(p.value)) continue;
      for (const op of p.value.items) if (isMap(op.value)) ids.add(String(op.value.get('operationId')));
    }
  }
  for (const id of [plan.getOperation, plan.listOperation]) if (ids.has(id)) out.push(`operationId ${id}`);
  return out;
}

/** The operation ids, paths and page sizes the contract will have. */
export function planContract(text: string, model: ResourceModel): ContractPlan {
  const doc = parseDocument(text);
  const limit = doc.getIn(['components', 'parameters', 'Limit', 'schema']);
  const num = (k: string, d: number) => {
    const v = isMap(limit) ? limit.get(k) : undefined;
    return typeof v === 'number' ? v : d;
  };
  const collection = `/${model.collection}`;
  return {
    getOperation: `get${model.name}`,
    listOperation: `list${plural(model.name)}`,
    collectionPath: collection,
    itemPath: `${collection}/${model.keyParams.map((p) => `{${p}}`).join('/')}`,
    defaultLimit: num('default', 20),
    maxLimit: num('maximum', 100),
  };
}

/** openapi.yaml with the resource's schemas, operations and the components they need added. */
export function addToContract(text: string, model: ResourceModel, plan: ContractPlan, keySchemas: JsonSchema[], header: string): string {
  const doc = parseDocument(text);
  const has = (...path: string[]) => doc.hasIn(path);
  const tag = model.collection;
  const human = model.collection.replace(/-/g, ' ');
  const responses = (extra: Record<string, unknown>) => ({ ...extra, '400': ref('responses', 'BadRequest'), default: ref('responses', 'Problem') });

  let out = text;
  // Shared components, only where missing.
  const params: string[] = [];
  if (!has('components', 'parameters', 'Limit'))
    params.push(entry('Limit', { name: 'limit', in: 'query', description: 'Page size.', schema: { type: 'integer', minimum: 1, maximum: plan.maxLimit, default: plan.defaultLimit } }));
  if (!has('components', 'parameters', 'Cursor'))
    params.push(entry('Cursor', { name: 'cursor', in: 'query', description: 'The opaque `nextCursor` of the previous page.', schema: { type: 'string', maxLength: 512 } }));
  out = addEntries(out, ['components', 'parameters'], params);
  const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('schemas', 'Problem') } } });
  const resps: string[] = [];
  if (!has('components', 'responses', 'BadRequest')) resps.push(entry('BadRequest', problemResponse('The request breaks the contract.')));
  if (!has('components', 'responses', 'NotFound')) resps.push(entry('NotFound', problemResponse('No such resource.')));
  if (!has('components', 'responses', 'Problem')) resps.push(entry('Problem', problemResponse('Any other error (5xx from the gateway or its backends).')));
  out = addEntries(out, ['components', 'responses'], resps);

  const schemas: string[] = [];
  if (!has('components', 'schemas', 'Problem')) {
    schemas.push(
      entry('Problem', {
        type: 'object',
        description: 'RFC 9457 problem details.',
        required: ['type', 'title', 'status'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          requestId: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
        },
        additionalProperties: true,
      }),
    );
  }
  schemas.push(resourceSchemaEntry(model, header));
  schemas.push(entry(`${model.name}Page`, pageSchema(model)));
  out = addEntries(out, ['components', 'schemas'], schemas);

  const keyParameters = model.keyParams.map((name, i) => ({ name, in: 'path', required: true, schema: keySchemas[i] }));
  const list = entry(
    plan.collectionPath,
    {
      get: {
        operationId: plan.listOperation,
        tags: [tag],
        summary: `List ${human} in key order, with cursor paging`,
        parameters: [ref('parameters', 'Limit'), ref('parameters', 'Cursor')],
        responses: responses({ '200': { description: `A page of ${human}.`, content: { 'application/json': { schema: ref('schemas', `${model.name}Page`) } } } }),
      },
    },
    ` Drafted by ficus scaffold db from ${model.table.name}: a page of rows in key order; nextCursor leads to the next page (keyset on ${model.key.map((k) => k.column.name).join(', ')}).`,
  );
  const get = entry(
    plan.itemPath,
    {
      get: {
        operationId: plan.getOperation,
        tags: [tag],
        summary: `Get one ${model.name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()} by its key`,
        parameters: keyParameters,
        responses: {
          '200': { description: `The ${model.name}.`, content: { 'application/json': { schema: ref('schemas', model.name) } } },
          '400': ref('responses', 'BadRequest'),
          '404': ref('responses', 'NotFound'),
          default: ref('responses', 'Problem'),
        },
      },
    },
    ` Drafted by ficus scaffold db from ${model.table.name}: one row by its key (${model.key.map((k) => k.column.name).join(', ')}).`,
  );
  const pathEntries = [has('paths', plan.collectionPath) ? undefined : list, has('paths', plan.itemPath) ? undefined : get].filter((e): e is string => e !== undefined);
  out = addEntries(out, ['paths'], pathEntries);
  // A path already there without a get: the get goes into it.
  if (has('paths', plan.collectionPath)) out = addEntries(out, ['paths', plan.collectionPath], [stripFirstLine(list)]);
  if (has('paths', plan.itemPath)) out = addEntries(out, ['paths', plan.itemPath], [stripFirstLine(get)]);
  return out;
}

/** `key:\n  get: …` → `get: …` (the entry's value, one level up). */
function stripFirstLine(entryText: string): string {
  const lines = entryText.split('\n');
  const start = lines.findIndex((l) => /^\S/.test(l) && !l.startsWith('#'));
  return lines
    .slice(start + 1)
    .map((l) => l.replace(/^ {2}/, ''))
    .join('\n');
}
