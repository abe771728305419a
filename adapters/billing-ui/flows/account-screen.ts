/**
 * The account inquiry screen of BILLING/2000 (/account): the account-number form, its messages,
 * and the detail table with labelled fields. Shared by the flows that start from an account.
 */
import { selectors, z, type Screen } from '../../../src/kinds/screen/flow.ts';

export const inquiry = selectors({
  accountNo: '#account-no',
  display: '#display',
  errors: '#messages .msg.error',
  detail: 'table#account',
  invoicesLink: 'a#invoices',
  changeAddressLink: 'a#change-address',
});

/** The detail table's labels. */
const detail = {
  accountNo: 'Account no.',
  holder: 'Account holder',
  status: 'Status',
  balance: 'Balance',
  currency: 'Currency',
  line1: 'Address line 1',
  line2: 'Address line 2',
  city: 'City',
  postalCode: 'Postal code',
  lastPayment: 'Last payment',
};

/** The account number as the inquiry screen takes it. */
export const accountNo = z.string().regex(/^A\d{6}$/, 'an account number such as A000123');

/** The detail screen, as the screen shows it (the binding converts). */
export const accountScreen = z.object({
  accountNo: z.string(),
  holder: z.string(),
  /** OPEN, OVERDUE or CLOSED: the binding maps the words. */
  status: z.string(),
  balance: z.string(),
  currency: z.string(),
  line1: z.string(),
  line2: z.string(),
  city: z.string(),
  postalCode: z.string(),
  lastPayment: z.string(),
});

/**
 * Opens an account's detail screen; the screen's "not found" message ends the flow as a 404.
 * The inquiry form submits by GET, so the flow goes straight to its result (one page load, not
 * two); the account number is a query value, encoded as data.
 */
export async function openAccount(screen: Screen, no: string): Promise<void> {
  await screen.goto('/account', { no });
  const errors = await screen.readAll(inquiry.errors);
  if (errors.some((e) => /not found/i.test(e))) screen.notFound(errors.join(' '));
  if (errors.length > 0) screen.unexpected(`the inquiry screen said: ${errors.join(' ')}`);
  if (!(await screen.isVisible(inquiry.detail))) screen.unexpected('the account detail did not appear');
}

/** The same, the way a clerk does it: type the number into the inquiry form and press Display. */
export async function openAccountByForm(screen: Screen, no: string): Promise<void> {
  await screen.goto('/account');
  await screen.fill(inquiry.accountNo, no);
  await screen.click(inquiry.display);
  const errors = await screen.readAll(inquiry.errors);
  if (errors.some((e) => /not found/i.test(e))) screen.notFound(errors.join(' '));
  if (errors.length > 0) screen.unexpected(`the inquiry screen said: ${errors.join(' ')}`);
  if (!(await screen.isVisible(inquiry.detail))) screen.unexpected('the account detail did not appear');
}

export function readAccount(screen: Screen): Promise<Record<keyof typeof detail, string>> {
  return screen.readLabelled(detail, inquiry.detail);
}
