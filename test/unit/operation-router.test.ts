/**
 * Routing every path template the specification allows: several parameters and literal text in one
 * segment, the most specific template first, percent-decoding exactly once, and trailing slashes.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { OperationRouter, type RouteMatch } from '../../src/http/operation-router.ts';
import { FIXTURES } from '../helpers/gateway.ts';

const contract = Contract.load(join(FIXTURES, 'openapi', 'templates.yaml'));
const router = new OperationRouter<string>();
for (const op of contract.all()) router.add(op, op.operationId);

function found(m: RouteMatch<string>): { id: string; params: Record<string, string> } {
  if (m.kind !== 'found') throw new Error(`not found: ${JSON.stringify(m)}`);
  return { id: m.target, params: m.pathParams };
}

describe('path templates', () => {
  it('two parameters in one segment, around literal text: /files/{name}.{ext}', () => {
    expect(found(router.match('GET', '/files/report.csv'))).toEqual({ id: 'getFilesByNameAndExt', params: { name: 'report', ext: 'csv' } });
    // The literal text occurs twice: the earlier parameter takes as much as it can.
    expect(found(router.match('GET', '/files/a.tar.gz')).params).toEqual({ name: 'a.tar', ext: 'gz' });
  });

  it('parameters joined by a dash: /reports/{year}-{month}', () => {
    expect(found(router.match('GET', '/reports/2024-05'))).toEqual({ id: 'getReportsByYearAndMonth', params: { year: '2024', month: '05' } });
  });

  it('literal text before a parameter: /user_lookup:{name}', () => {
    expect(found(router.match('GET', '/user_lookup:carmine'))).toEqual({ id: 'getUserLookupByName', params: { name: 'carmine' } });
    expect(router.match('GET', '/user_lookup:').kind).toBe('none');
  });

  it('the most specific template wins: a literal, then literal text with parameters, then a bare parameter', () => {
    expect(found(router.match('GET', '/files/latest.csv')).id).toBe('getFilesLatestCsv');
    expect(found(router.match('GET', '/files/other.csv')).id).toBe('getFilesByNameAndExt');
    expect(found(router.match('GET', '/files/readme')).id).toBe('getFilesById');
  });

  it('a method the path does not have is 405 with the methods it has', () => {
    expect(router.match('POST', '/files/readme')).toEqual({ kind: 'method-not-allowed', allow: ['GET', 'DELETE'] });
    // /files/report.csv also fits /files/{id}: its methods count too.
    expect(router.match('DELETE', '/files/report.csv').kind).toBe('found');
  });
});

describe('percent-encoding', () => {
  it('decodes a parameter once: %20 is a space, %2F a slash inside one value, %2520 stays %20', () => {
    expect(found(router.match('GET', '/files/ab%20cd')).params).toEqual({ id: 'ab cd' });
    expect(found(router.match('GET', '/files/ab%2Fcd')).params).toEqual({ id: 'ab/cd' });
    expect(found(router.match('GET', '/files/ab%2520cd')).params).toEqual({ id: 'ab%20cd' });
    expect(found(router.match('GET', '/reports/2024-0%35')).params).toEqual({ year: '2024', month: '05' });
  });

  it('matches a literal segment sent percent-encoded', () => {
    expect(found(router.match('GET', '/%69tems')).id).toBe('getItems');
  });

  it('says which parameter is not valid percent-encoding', () => {
    expect(router.match('GET', '/files/%E0%A4%A')).toEqual({ kind: 'bad-path', detail: 'path parameter id is not valid percent-encoding: %E0%A4%A' });
  });
});

describe('trailing slashes', () => {
  it('serves /items/ as /items when the contract has no /items/ of its own', () => {
    expect(found(router.match('GET', '/items/')).id).toBe('getItems');
  });

  it("matches the contract's own /folders/ exactly (/folders is another path)", () => {
    expect(found(router.match('GET', '/folders/')).id).toBe('getFolders');
    expect(router.match('GET', '/folders').kind).toBe('none');
  });

  it('never reads a trailing slash as an empty parameter', () => {
    expect(router.match('GET', '/files/').kind).toBe('none');
  });
});
