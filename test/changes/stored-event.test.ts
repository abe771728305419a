/**
 * The outbox hands sinks each event's stored JSON text as it is, with the attributes they route and
 * label it by, read without parsing the event's data.
 */
import { describe, expect, it } from 'vitest';
import { cloudEvent, storedEvent } from '../../src/changes/cloud-event.ts';

describe('storedEvent', () => {
  it('keeps the stored text byte for byte and reads id, type and subject from it', () => {
    const json = JSON.stringify(cloudEvent({ id: 'e1', source: '/crm', type: 'customer.updated', subject: '1003', data: { name: 'Ada', tags: ['a,"data":b'] }, feed: 'customers' }));
    expect(storedEvent(json)).toEqual({ id: 'e1', type: 'customer.updated', subject: '1003', json });
  });

  it('reads attributes whose values look like the cut, and events written in another order', () => {
    const tricky = JSON.stringify(cloudEvent({ id: 'e2', source: '/crm', type: 'customer.updated', subject: 'x,"data":{"id":"no"}', data: null, feed: 'customers' }));
    expect(storedEvent(tricky)).toMatchObject({ id: 'e2', subject: 'x,"data":{"id":"no"}' });
    const reordered = JSON.stringify({ data: { id: 'inner', type: 'inner' }, id: 'e3', type: 'customer.deleted', subject: '7' });
    expect(storedEvent(reordered)).toMatchObject({ id: 'e3', type: 'customer.deleted', subject: '7', json: reordered });
  });
});
