import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { bodiesNotCarried } from '../../src/config/body-kinds.ts';
import { Contract } from '../../src/contract/contract.ts';
import { loadKind } from '../../src/kinds/registry.ts';
import { FIXTURES } from '../helpers/gateway.ts';

const file = `${FIXTURES}openapi-validation/bodies.yaml`;
const contract = new Contract(parse(readFileSync(file, 'utf8')) as Record<string, unknown>, file);

describe('which request bodies a kind can carry', () => {
  it('lets http carry every body, db and screen JSON and forms, sftp JSON only', async () => {
    const [http, db, screen, sftp] = await Promise.all(['http', 'db', 'screen', 'sftp'].map(async (k) => (await loadKind(k))!));
    for (const op of ['postScalar', 'postVersioned', 'upload', 'postNote']) expect(bodiesNotCarried(http, op, contract)).toBeUndefined();
    expect(bodiesNotCarried(db, 'postScalar', contract)).toBeUndefined();
    expect(bodiesNotCarried(sftp, 'postVersioned', contract)).toBeUndefined();
    const multipart = bodiesNotCarried(db, 'upload', contract);
    expect(multipart?.problem).toBe('the db kind cannot carry multipart/form-data bodies, which upload declares (it carries: json, form)');
    expect(multipart?.fix).toMatch(/http passes any body through/);
    expect(bodiesNotCarried(screen, 'postNote', contract)?.problem).toMatch(/cannot carry text\/plain, application\/octet-stream, \*\/\* bodies/);
    expect(bodiesNotCarried(sftp, 'upload', contract)?.problem).toMatch(/cannot carry multipart\/form-data, application\/x-www-form-urlencoded bodies/);
  });
});
