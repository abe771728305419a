/**
 * Loading contracts as users bring them: OpenAPI 3.0 and 3.1 each by its own rules, several files
 * joined by relative $refs, path items by $ref, recursive schemas, operations without an
 * operationId, and documents with mistakes (named by file, JSON pointer and line).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Contract, displayPath } from '../../src/contract/contract.ts';
import { ContractError } from '../../src/contract/contract-loader.ts';
import { derivedOperationId, parseOperationKey } from '../../src/contract/operation-names.ts';
import { FIXTURES } from '../helpers/gateway.ts';

const DIR = join(FIXTURES, 'openapi');
const ajv = new Ajv2020({ strict: false, allErrors: true });

async function mistakesOf(file: string): Promise<ContractError> {
  const err = await Contract.open(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContractError);
  return err as ContractError;
}

describe('a contract in several files', () => {
  it('bundles relative $refs: path items from other files and from components.pathItems are routed, schemas from other files validated', async () => {
    const c = await Contract.open(join(DIR, 'multi-file', 'openapi.yaml'));
    expect(c.version).toBe('3.1');
    const ops = c.all().map((o) => `${o.method} ${o.path} ${o.operationId}`);
    expect(ops.sort()).toEqual(['get /streams/{id} getStreamsById', 'post /folders postFolders', 'post /notes createNote']);
    const stream = c.operation('getStreamsById');
    expect(stream.parameters).toMatchObject([{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }]);
    const note = ajv.compile(c.operation('createNote').requestBodySchema!);
    expect(note({ text: 'hello', author: 'me' })).toBe(true);
    expect(note({ text: '' })).toBe(false);
    expect(note({ text: 'a', author: 5 })).toBe(false);
    const answer = ajv.compile(c.responseSchema('getStreamsById', 200)!);
    expect(answer({ id: 1, title: 't' })).toBe(true);
    expect(answer({ id: 1 })).toBe(false);
  });

  it('validates a recursive schema by reference, to any depth, instead of failing as "nested too deeply"', async () => {
    const c = await Contract.open(join(DIR, 'multi-file', 'openapi.yaml'));
    const schema = c.operation('postFolders').requestBodySchema!;
    expect(JSON.stringify(schema)).toContain('"$ref":"#/$defs/');
    const folder = ajv.compile(schema);
    let deep: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < 200; i++) deep = { name: `f${i}`, children: [deep] };
    expect(folder(deep)).toBe(true);
    let bad: Record<string, unknown> = { name: 5 };
    for (let i = 0; i < 50; i++) bad = { name: `f${i}`, children: [bad] };
    expect(folder(bad)).toBe(false);
    expect(folder.errors?.[0].instancePath).toBe(`${'/children/0'.repeat(50)}/name`);
  });
});

describe('discriminator mappings that name other files', () => {
  it('point, once bundled, at the schemas they name: from the entry file and from another file, with and without a JSON pointer', async () => {
    const c = await Contract.open(join(DIR, 'discriminator-files', 'openapi.yaml'));
    const menu = c.document.paths as Record<string, { post: { requestBody: { content: Record<string, { schema: { discriminator: { mapping: Record<string, string> } } }> } } }>;
    const mapping = menu['/menu'].post.requestBody.content['application/json'].schema.discriminator.mapping;
    expect(Object.values(mapping).every((ref) => ref.startsWith('#/'))).toBe(true);
    expect(c.deref({ $ref: mapping.beverage })).toMatchObject({ required: ['category', 'volume'] });
    expect(c.deref({ $ref: mapping.dessert })).toMatchObject({ required: ['category', 'calories'] });
    // pet.yaml's children are reached by no $ref, only by its mapping (relative to pet.yaml): bundled into components.schemas.
    const pet = c.deref(c.operation('addPet').raw.requestBody) as { content: Record<string, { schema: unknown }> };
    const parent = c.deref(pet.content['application/json'].schema) as { discriminator: { mapping: Record<string, string> } };
    expect(parent.discriminator.mapping).toEqual({ dog: '#/components/schemas/dog', cat: '#/components/schemas/Cat' });
    expect(c.deref({ $ref: parent.discriminator.mapping.cat })).toMatchObject({ allOf: [{}, { required: ['hunts'] }] });
  });

  it('stops start-up at a mapping that names a file that does not exist, naming where the mapping is written', async () => {
    const file = join(DIR, 'discriminator-missing', 'openapi.yaml');
    const err = await mistakesOf(file);
    expect(err.mistakes).toHaveLength(1);
    expect(err.mistakes[0]).toMatchObject({ file, pointer: '/paths/~1menu/post/requestBody/content/application~1json/schema/discriminator/mapping/soup', line: 17 });
    expect(err.mistakes[0].problem).toContain('"./soup.yaml" names no schema');
    expect(err.mistakes[0].problem).toContain('does not exist');
  });
});

describe('each version by its own rules', () => {
  it('3.0: nullable allows null, boolean exclusiveMinimum/exclusiveMaximum exclude their bounds', async () => {
    const c = await Contract.open(join(DIR, 'v30-rules.yaml'));
    expect(c.version).toBe('3.0');
    const body = ajv.compile(c.operation('addReading').requestBodySchema!);
    expect(body({ value: 50, note: null, level: null })).toBe(true);
    expect(body({ value: 50, note: 'x', level: 'low' })).toBe(true);
    expect(body({ value: 0, note: null })).toBe(false);
    expect(body({ value: 100, note: null })).toBe(false);
    expect(body({ value: 50, note: null, level: 'medium' })).toBe(false);
  });

  it('3.1: null where the type says so, exclusiveMinimum/exclusiveMaximum are the bounds', async () => {
    const c = await Contract.open(join(DIR, 'v31-rules.yaml'));
    expect(c.version).toBe('3.1');
    const body = ajv.compile(c.operation('addReading').requestBodySchema!);
    expect(body({ value: 50, note: null })).toBe(true);
    expect(body({ value: 0.5, note: 'x' })).toBe(true);
    expect(body({ value: 0, note: null })).toBe(false);
    expect(body({ value: 100, note: null })).toBe(false);
    expect(body({ value: 50, note: 5 })).toBe(false);
  });

  it('3.1 with a 3.0-style nullable: null allowed as its author meant, and announced with file and line', async () => {
    const file = join(DIR, 'v31-rules.yaml');
    const c = await Contract.open(file);
    const body = ajv.compile(c.operation('addReading').requestBodySchema!);
    expect(body({ value: 50, note: null, legacy: null })).toBe(true);
    expect(c.notices).toEqual([
      `${displayPath(file)}:18: #/paths/~1readings/post/requestBody/content/application~1json/schema/properties/legacy: nullable: true is OpenAPI 3.0 style; 3.1 has no nullable keyword. Read as a null type allowed; write type: [<type>, 'null'] in the document`,
    ]);
  });

  it('3.1 with a 3.0-style boolean exclusiveMaximum: starts, reads it the 3.0 way and says where, in which file and line', async () => {
    const file = join(DIR, 'v31-boolean-exclusive.yaml');
    const c = await Contract.open(file);
    const level = c.operation('getLevel').parameters[0].schema;
    expect(level).toEqual({ type: 'number', exclusiveMaximum: 10 });
    expect(c.notices).toHaveLength(1);
    expect(c.notices[0]).toContain(`${displayPath(file)}:12: #/paths/~1levels/get/parameters/0/schema: exclusiveMaximum: true is OpenAPI 3.0 style`);
    expect(c.notices[0]).toContain('exclusiveMaximum: 10');
  });
});

describe('operationIds', () => {
  it('derives one, announced, for an operation without', async () => {
    const c = await Contract.open(join(DIR, 'multi-file', 'openapi.yaml'));
    expect(c.operation('getStreamsById').derivedId).toBe(true);
    expect(c.operation('createNote').derivedId).toBe(false);
    expect(c.notices).toContain(
      `${displayPath(join(DIR, 'multi-file', 'openapi.yaml'))}: GET /streams/{id} has no operationId; it is named "getStreamsById" (bind it by that name or as "GET /streams/{id}")`,
    );
  });

  it('names operations from method and path', () => {
    expect(derivedOperationId('get', '/streams/{id}')).toBe('getStreamsById');
    expect(derivedOperationId('post', '/files/{name}.{ext}')).toBe('postFilesByNameAndExt');
    expect(derivedOperationId('delete', '/user-accounts/{account_id}/api_keys/{key-id}')).toBe('deleteUserAccountsByAccountIdApiKeysByKeyId');
    expect(derivedOperationId('get', '/')).toBe('getRoot');
  });

  it('finds an operation by operationId or by METHOD /path', async () => {
    const c = await Contract.open(join(DIR, 'multi-file', 'openapi.yaml'));
    expect(c.resolve('createNote')).toBe('createNote');
    expect(c.resolve('GET /streams/{id}')).toBe('getStreamsById');
    expect(c.resolve('post /notes')).toBe('createNote');
    expect(c.resolve('PUT /notes')).toBeUndefined();
    expect(c.resolve('GET /streams/{streamId}')).toBeUndefined();
    expect(parseOperationKey('FETCH /x')).toBeUndefined();
  });

  it('gives a second operation with the same operationId a name of its own, announced', () => {
    const c = new Contract({
      openapi: '3.0.3',
      paths: {
        '/pets': { post: { operationId: 'addPet', responses: {} } },
        '/pets_charset': { post: { operationId: 'addPet', responses: {} } },
      },
    });
    expect(c.resolve('POST /pets')).toBe('addPet');
    expect(c.resolve('POST /pets_charset')).toBe('postPetsCharset');
    expect(c.notices[0]).toContain('operationId "addPet" is used by more than one operation');
  });
});

describe('response schemas', () => {
  it('finds the exact status, then its class, then default; a status declared without a body has none, default or not', () => {
    const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
    const c = new Contract({
      openapi: '3.0.3',
      info: { title: 'responses', version: '1' },
      paths: {
        '/auth/register': {
          post: {
            operationId: 'register',
            responses: {
              '200': { description: 'registered, no body' },
              '4XX': { description: 'refused', ...json({ type: 'object', required: ['reason'] }) },
              default: { description: 'any other', ...json({ type: 'object', required: ['message'] }) },
            },
          },
        },
      },
    });
    expect(c.responseSchema('register', 200)).toBeUndefined();
    expect(c.responseSchema('register', 409)).toEqual({ type: 'object', required: ['reason'] });
    expect(c.responseSchema('register', 500)).toEqual({ type: 'object', required: ['message'] });
  });
});

describe('documents with mistakes', () => {
  it('checks the document against the OpenAPI schema and names file, JSON pointer and line (3.0)', async () => {
    const file = join(DIR, 'invalid-document.yaml');
    const err = await mistakesOf(file);
    expect(err.mistakes).toHaveLength(1);
    expect(err.mistakes[0]).toMatchObject({ file, pointer: '/paths/~1pets/get/parameters/0/in', line: 9 });
    expect(err.mistakes[0].problem).toContain('["path","query","header","cookie"]');
    expect(err.mistakes[0].problem).toContain('OpenAPI 3.0 schema');
    expect(err.message).not.toContain('3.1');
  });

  it('places a mistake in the file it is written in, for a multi-file document', async () => {
    const err = await mistakesOf(join(DIR, 'invalid-multi', 'openapi.yaml'));
    expect(err.mistakes).toHaveLength(1);
    expect(err.mistakes[0]).toMatchObject({ file: join(DIR, 'invalid-multi', 'paths', 'pets.yaml'), pointer: '/get/summary', line: 9 });
    expect(err.mistakes[0].problem).toContain('must be string');
  });

  it('names a $ref to a file that does not exist', async () => {
    const err = await mistakesOf(join(FIXTURES, 'openapi', 'missing-ref', 'openapi.yaml'));
    expect(err.mistakes[0].problem).toContain('a $ref cannot be resolved');
    expect(err.mistakes[0].problem).toContain('nowhere.yaml');
  });

  it('refuses a version it does not read, saying which it does', async () => {
    const err = await mistakesOf(join(FIXTURES, 'openapi', 'swagger2.yaml'));
    expect(err.mistakes[0].problem).toContain('Swagger 2.0');
    expect(err.mistakes[0].problem).toContain('OpenAPI 3.0 and 3.1');
  });
});
