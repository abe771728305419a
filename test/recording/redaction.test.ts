import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { Redactor } from '../../src/recording/redactor.ts';
import { luhnValid, scanValue } from '../../src/recording/secret-scan.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';

const contract = Contract.load(join(PROJECT_ROOT, 'openapi.yaml'));
const op = contract.operation('getCustomer');

function customer(over: Record<string, unknown> = {}) {
  return {
    id: 1001,
    name: 'Harbour Street Hardware',
    email: 'accounts@harbour-hardware.example',
    status: 'active',
    vip: false,
    creditLimit: 2500,
    createdOn: '1998-03-14',
    updatedAt: '2024-05-02T09:15:00Z',
    address: { lines: ['12 Harbour Street'], city: 'Bristol', postalCode: 'BS1 4RB', country: 'GB' },
    ...over,
  };
}

const request = (headers: Record<string, string> = {}) => ({ method: 'GET', path: '/customers/1001', query: {}, headers, body: null });

describe('redaction before anything is written', () => {
  const redactor = new Redactor({ contract, key: 'test-key-1' });

  it('drops credentials headers and keeps only the selected ones', () => {
    const r = redactor.redact(
      op,
      'getCustomer',
      request({ authorization: 'Bearer abc.def', cookie: 'session=1', 'x-api-key': 'k', accept: 'application/json', 'user-agent': 'curl', 'x-request-id': 'r1' }),
      { status: 200, headers: { 'set-cookie': 'a=b', location: '/x' }, body: customer() },
    );
    expect(r.request.headers).toEqual({ accept: 'application/json' });
    expect(r.response.headers).toEqual({ location: '/x' });
    expect(JSON.stringify(r)).not.toMatch(/Bearer|session=1/);
  });

  it('drops a header whose name says it is a credential, even when config names it to be kept', () => {
    const r = new Redactor({ contract, key: 'k', headers: ['X-Upstream-Password', 'X-Tenant'] });
    const out = r.redact(op, 'getCustomer', request({ 'x-upstream-password': 'hunter2-upstream', 'x-auth-token': 't0k', 'x-csrf-token': 'c5rf', 'x-tenant': 'north' }), {
      status: 200,
      headers: {},
      body: customer(),
    });
    expect(out.request.headers).toEqual({ 'x-tenant': 'north' });
  });

  it('hashes fields the contract marks x-ficus-sensitive, the same value to the same hash', () => {
    const a = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer() });
    const b = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer({ email: '  accounts@harbour-hardware.example ' }) });
    const c = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer({ email: 'other@example.com' }) });
    const email = (x: typeof a) => (x.response.body as { email: string }).email;
    expect(email(a)).toMatch(/^redacted:[A-Za-z0-9_-]{22}$/);
    expect(email(a)).toBe(email(b));
    expect(email(a)).not.toBe(email(c));
    expect(a.redacted).toEqual(['$.response.body.email']);
    expect(JSON.stringify(a)).not.toContain('harbour-hardware.example');
    // null stays null: there is nothing to hide, and null must still compare equal to null.
    expect((redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer({ email: null }) }).response.body as { email: unknown }).email).toBeNull();
  });

  it('hashes with the key: another key gives other hashes, and a key id tells them apart', () => {
    const other = new Redactor({ contract, key: 'test-key-2' });
    const a = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer() });
    const b = other.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body: customer() });
    expect((a.response.body as { email: string }).email).not.toBe((b.response.body as { email: string }).email);
    expect(redactor.keyId).not.toBe(other.keyId);
  });

  it('hashes exchange paths named in config, in lists too', () => {
    const r = new Redactor({ contract, key: 'k', redact: ['$.response.body.items[*].address.postalCode'], redactByOperation: { listCustomers: ['$.request.query.updatedSince'] } });
    const out = r.redact(
      contract.operation('listCustomers'),
      'listCustomers',
      { method: 'GET', path: '/customers', query: { updatedSince: '2024-01-01T00:00:00Z', limit: 5 }, headers: {}, body: null },
      { status: 200, headers: {}, body: { items: [customer(), customer({ id: 2 })], nextCursor: null } },
    );
    const items = (out.response.body as { items: { address: { postalCode: string; city: string } }[] }).items;
    expect(items.map((i) => i.address.postalCode.startsWith('redacted:'))).toEqual([true, true]);
    expect(items[0].address.city).toBe('Bristol');
    expect(out.request.query.limit).toBe(5);
    expect(String(out.request.query.updatedSince)).toMatch(/^redacted:/);
    expect(out.redacted).toContain('$.response.body.items[1].address.postalCode');
  });

  it('finds secrets and personal data in unmarked fields, hashes them and says where', () => {
    const body = customer({
      name: 'Pay with 4111 1111 1111 1111 please',
      address: { lines: ['contact: ops@example.org'], city: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc', postalCode: 'BS1 4RB', country: 'GB' },
    });
    const r = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body });
    expect(r.findings).toEqual(
      expect.arrayContaining([
        { path: '$.response.body.name', kind: 'card-number' },
        { path: '$.response.body.address.lines[0]', kind: 'email' },
        { path: '$.response.body.address.city', kind: 'token' },
      ]),
    );
    expect(r.findings).toHaveLength(3);
    expect(JSON.stringify(r.response)).not.toMatch(/4111|ops@example|eyJhbGci/);
  });
});

describe('the secret scan', () => {
  it('checks card numbers with Luhn, so ordinary long numbers pass', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(scanValue('order 4111-1111-1111-1111')).toBe('card-number');
    expect(scanValue('order 4111-1111-1111-1112')).toBeUndefined();
    expect(scanValue('2024-05-02T09:15:00Z')).toBeUndefined();
  });

  it('knows common token shapes and secret-looking field names', () => {
    expect(scanValue('Bearer abcdefghijklmnopqrstuvwxyz')).toBe('token');
    expect(scanValue('AKIAABCDEFGHIJKLMNOP')).toBe('token');
    expect(scanValue('-----BEGIN RSA PRIVATE KEY-----\nMIIE')).toBe('private-key');
    expect(scanValue('hunter22', 'password')).toBe('secret-field');
    expect(scanValue('Harbour Street Hardware', 'name')).toBeUndefined();
  });
});

describe('the secret scan, for numbers and addresses written other ways', () => {
  it('finds card numbers grouped with dots, and leaves decimals and version numbers alone', () => {
    expect(scanValue('card 4111.1111.1111.1111 on file')).toBe('card-number');
    expect(scanValue('4111.1111.1111.1112')).toBeUndefined();
    expect(scanValue('4111111111.111111')).toBeUndefined();
    expect(scanValue('1.2.3.4')).toBeUndefined();
  });

  it('finds internationalised email addresses', () => {
    expect(scanValue('jöhn@exämple.com')).toBe('email');
    expect(scanValue('write to 用户@例子.广告 today')).toBe('email');
    expect(scanValue('Zoë and André')).toBeUndefined();
  });

  it('hashes them in a recorded exchange', () => {
    const redactor = new Redactor({ contract, key: 'test-key-1' });
    const body = customer({ name: 'card 4111.1111.1111.1111', address: { lines: ['jöhn@exämple.com'], city: 'Bristol', postalCode: 'BS1 4RB', country: 'GB' } });
    const r = redactor.redact(op, 'getCustomer', request(), { status: 200, headers: {}, body });
    expect(r.findings).toEqual(
      expect.arrayContaining([
        { path: '$.response.body.name', kind: 'card-number' },
        { path: '$.response.body.address.lines[0]', kind: 'email' },
      ]),
    );
    expect(JSON.stringify(r.response)).not.toMatch(/4111|jöhn|exämple/);
  });
});

describe('shadow mismatches, redacted as recordings are', () => {
  const redactor = new Redactor({ contract, key: 'test-key-1' });

  it('hashes the query, sensitive fields of both answers and the values of their differences', () => {
    const legacy = { status: 200, body: customer({ email: 'bob.smith@example.org', vip: false }) };
    const modern = { status: 200, body: customer({ email: 'robert.smith@example.org', vip: true }) };
    const differences = [
      { path: '$.email', legacy: 'bob.smith@example.org', modern: 'robert.smith@example.org', kind: 'changed' as const },
      { path: '$.vip', legacy: false, modern: true, kind: 'changed' as const },
    ];
    const r = redactor.redactMismatch(op, 'getCustomer', { method: 'get', pathParams: { customerId: 1001 }, query: {} }, legacy, modern, differences);
    expect(r.path).toBe('/customers/1001');
    expect((r.legacyBody as { email: string }).email).toMatch(/^redacted:/);
    expect((r.modernBody as { email: string }).email).toMatch(/^redacted:/);
    expect(r.differences[0]).toEqual({ path: '$.email', legacy: (r.legacyBody as { email: string }).email, modern: (r.modernBody as { email: string }).email, kind: 'changed' });
    expect(r.differences[1]).toEqual(differences[1]);
    expect(JSON.stringify(r)).not.toContain('smith@example');

    const search = contract.operation('searchAccounts');
    const q = redactor.redactMismatch(
      search,
      'searchAccounts',
      { method: 'get', pathParams: {}, query: { name: 'bob.smith@example.org', page: 2 } },
      { status: 200, body: { items: [] } },
      { status: 500, body: undefined },
      [{ path: 'status', legacy: 200, modern: 500, kind: 'changed' }],
    );
    expect(q.query).toEqual({ name: expect.stringMatching(/^redacted:/), page: 2 });
    expect(q.modernBody).toBeUndefined();
  });
});
