import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { addSchemaViewKeywords, schemaView, type SchemaViewOptions } from '../../src/contract/schema-view.ts';

const components: Record<string, unknown> = {
  Node: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/components/schemas/Node' } } } },
  Thing: { type: 'object', required: ['id', 'size'], properties: { id: { type: 'string', readOnly: true }, size: { type: 'integer', nullable: true, minimum: 0, exclusiveMinimum: true } } },
};
const resolve = (ref: string) => components[ref.slice('#/components/schemas/'.length)];
const options = (direction: SchemaViewOptions['direction'], openapi30 = true): SchemaViewOptions => ({ direction, writeOnly: 'refuse', openapi30, resolve, components });

function compile(schema: unknown, opts: SchemaViewOptions) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addSchemaViewKeywords(ajv as unknown as Ajv);
  return ajv.compile(schemaView(schema, opts));
}

describe('schema views', () => {
  it('compiles a recursive schema by reference ($defs), not by endless inlining', () => {
    const view = schemaView({ $ref: '#/components/schemas/Node' }, options('request'));
    expect(JSON.stringify(view)).toContain('#/$defs/Node');
    const validate = compile({ $ref: '#/components/schemas/Node' }, options('request'));
    expect(validate({ name: 'a', children: [{ name: 'b', children: [{ name: 'c' }] }] })).toBe(true);
    expect(validate({ name: 'a', children: [{ name: 'b', children: [{ name: 3 }] }] })).toBe(false);
    expect(validate.errors?.[0].instancePath).toBe('/children/0/children/0/name');
  });

  it('turns 3.0 nullable and boolean exclusive bounds into JSON Schema', () => {
    const validate = compile({ $ref: '#/components/schemas/Thing' }, options('response'));
    expect(validate({ id: 'x', size: null })).toBe(true);
    expect(validate({ id: 'x', size: 0 })).toBe(false);
    expect(validate({ id: 'x', size: 1 })).toBe(true);
  });

  it('leaves 3.1 schemas as JSON Schema (a $ref with siblings applies both)', () => {
    const validate = compile({ $ref: '#/components/schemas/Node', maxProperties: 1 }, options('request', false));
    expect(validate({ name: 'a' })).toBe(true);
    expect(validate({ name: 'a', children: [] })).toBe(false);
  });

  it('requires a readOnly property in responses, never in requests', () => {
    expect(compile({ $ref: '#/components/schemas/Thing' }, options('response'))({ size: 1 })).toBe(false);
    expect(compile({ $ref: '#/components/schemas/Thing' }, options('request'))({ size: 1 })).toBe(true);
    expect(compile({ $ref: '#/components/schemas/Thing' }, options('request'))({ id: 'x', size: 1 })).toBe(false);
  });
});
