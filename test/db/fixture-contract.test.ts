/**
 * The db tests' fixture contract (test/fixtures/db-gateway/openapi.yaml) carries the project's
 * customers operations verbatim: if the project's contract changes them, this fails, so the tests
 * keep checking the crm-db adapter against the contract users are served.
 */
import { describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import { FIXTURES, PROJECT_ROOT } from '../helpers/gateway.ts';

describe('the db fixture contract', () => {
  it("has the project contract's getCustomer and listCustomers, parameters and responses alike", () => {
    const project = Contract.load(`${PROJECT_ROOT}openapi.yaml`);
    const fixture = Contract.load(`${FIXTURES}db-gateway/openapi.yaml`);
    for (const id of ['getCustomer', 'listCustomers']) {
      const a = project.operation(id);
      const b = fixture.operation(id);
      expect(b.path).toBe(a.path);
      expect(b.parameters).toEqual(a.parameters);
      expect(b.responses).toEqual(a.responses);
    }
  });
});
