/** The binding's output template: the screen's words and formats turned into the contract's values. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MappingError, applyTemplate, checkTemplate, templateSchema, type Template } from '../../src/kinds/screen/output-mapping.ts';

const t = (x: unknown) => templateSchema.parse(x) as Template;

describe('output templates', () => {
  it('maps fields, nested objects, lists, value tables, conversions and constants', () => {
    const template = t({
      id: 'no',
      balance: { from: 'balance', as: 'number' },
      count: { from: 'count', as: 'integer' },
      vip: { from: 'vip', as: 'boolean' },
      status: { from: 'status', values: { OPEN: 'open', CLOSED: 'closed' } },
      paidOn: { from: 'paid', as: 'date', format: 'DD.MM.YYYY', nullWhen: ['(none)'] },
      address: { line1: 'street', line2: { from: 'extra', omitWhen: [''] } },
      items: { each: 'rows', map: { n: { from: 'n', as: 'integer' } } },
      source: { const: 'billing' },
    });
    const out = applyTemplate(template, {
      no: 'A1',
      balance: '-1,234.50',
      count: '12',
      vip: 'Y',
      status: 'OPEN',
      paid: '(none)',
      street: 'Mill Lane',
      extra: '',
      rows: [{ n: '1' }, { n: '2' }],
    });
    expect(out).toEqual({ id: 'A1', balance: -1234.5, count: 12, vip: true, status: 'open', paidOn: null, address: { line1: 'Mill Lane' }, items: [{ n: 1 }, { n: 2 }], source: 'billing' });
    expect(applyTemplate(t({ d: { from: 'd', as: 'date', format: 'DD.MM.YYYY' } }), { d: '05.03.2026' })).toEqual({ d: '2026-03-05' });
    expect(applyTemplate(t({ n: { from: 'n', as: 'number' } }), { n: '1,234.56-' })).toEqual({ n: -1234.56 });
  });

  it('says which field the screen showed a value in that cannot become what the contract wants', () => {
    expect(() => applyTemplate(t({ a: { from: 'a', as: 'number' } }), { a: 'n/a' })).toThrow(new MappingError('a: "n/a" is not a number'));
    expect(() => applyTemplate(t({ s: { from: 's', values: { OPEN: 'open' } } }), { s: 'FROZEN' })).toThrow('s: the screen showed "FROZEN", which is none of OPEN');
    expect(() => applyTemplate(t({ d: { from: 'd', as: 'date', format: 'DD.MM.YYYY' } }), { d: '31.02.2026' })).toThrow('d: "31.02.2026" is not a real date');
    expect(() => applyTemplate(t({ xs: { each: 'rows', map: { d: { from: 'd', as: 'date' } } } }), { rows: [{ d: '2026-01-01' }, { d: 'soon' }] })).toThrow(
      'xs[1].d: "soon" is not a date in the form YYYY-MM-DD',
    );
  });

  it('checks every path against what the flow declares it returns', () => {
    const flowOutput = z.object({ holder: z.string(), rows: z.array(z.object({ n: z.string() })), single: z.string() });
    expect(checkTemplate(t({ name: 'holder', items: { each: 'rows', map: { n: 'n' } } }), flowOutput)).toEqual([]);
    expect(checkTemplate(t({ name: 'holderName', items: { each: 'single', map: { n: 'n' } }, x: { each: 'rows', map: { m: 'm' } } }), flowOutput)).toEqual([
      ['output.name', 'the flow returns no field "holderName"', "use one of the flow's fields: holder, rows, single"],
      ['output.items.each', 'the flow\'s field "single" is not a list', 'name a list the flow returns'],
      ['output.x.map.m', 'the flow returns no field "m"', "use one of the flow's fields: n"],
    ]);
  });
});
