/**
 * updateBillingAddress: from the account, Change address, fill the form, Save. The legacy app
 * checks the form on its side; its messages end the flow as a 422 in its own words.
 */
import { defineFlow, selectors, z } from '../../../src/kinds/screen/flow.ts';
import { accountNo, accountScreen, inquiry, openAccountByForm, readAccount } from './account-screen.ts';

const form = selectors({
  line1: '#line1',
  line2: '#line2',
  city: '#city',
  postal: '#postal',
  save: '#save',
  errors: '#messages .msg.error',
  done: '#messages .msg.info',
});

/** Which request field a message of the form is about, by its first words. */
const FIELD_OF: [RegExp, string][] = [
  [/^Address line 1/i, 'body.line1'],
  [/^Address line 2/i, 'body.line2'],
  [/^City/i, 'body.city'],
  [/^Postal code/i, 'body.postalCode'],
];

// The form's own limits (its maxlength attributes): longer values are refused before the browser is touched.
const max = (n: number) => z.string().max(n, `the legacy form takes at most ${n} characters`);

export default defineFlow({
  description: 'Account inquiry → Change address → fill → Save → the account as it now is',
  input: z.object({ accountId: accountNo, line1: max(30), line2: max(30).default(''), city: max(20), postalCode: max(8) }),
  output: accountScreen,
  async run(screen, input) {
    await openAccountByForm(screen, input.accountId);
    await screen.click(inquiry.changeAddressLink);
    await screen.fill(form.line1, input.line1);
    await screen.fill(form.line2, input.line2);
    await screen.fill(form.city, input.city);
    await screen.fill(form.postal, input.postalCode);
    await screen.click(form.save);
    const errors = await screen.readAll(form.errors);
    if (errors.length > 0) {
      screen.refused(
        errors,
        errors.map((message) => ({ field: FIELD_OF.find(([re]) => re.test(message))?.[1] ?? 'body', message })),
      );
    }
    const done = await screen.readAll(form.done);
    if (!done.some((m) => /address changed/i.test(m))) screen.unexpected('the legacy app did not confirm the change');
    return readAccount(screen);
  },
});
