/** listAccountInvoices: from the account, Invoices, then every page of the invoice table. */
import { defineFlow, selectors, z } from '../../../src/kinds/screen/flow.ts';
import { accountNo, inquiry, openAccount } from './account-screen.ts';

const invoices = selectors({
  table: 'table#invoice-list',
  next: 'a#next',
  info: '#messages .msg.info',
});

const columns = { invoiceNo: 'Invoice no.', issued: 'Issued', due: 'Due', amount: 'Amount', status: 'Status' };

export default defineFlow({
  description: 'Account inquiry → Invoices → page through the invoice table',
  input: z.object({ accountId: accountNo }),
  output: z.object({
    invoices: z.array(z.object({ invoiceNo: z.string(), issued: z.string(), due: z.string(), amount: z.string(), status: z.string() })),
  }),
  async run(screen, { accountId }) {
    await openAccount(screen, accountId);
    await screen.click(inquiry.invoicesLink);
    const info = await screen.readAll(invoices.info);
    if (info.some((m) => /no invoices/i.test(m))) return { invoices: [] };
    const rows = await screen.pageThrough(() => screen.readTable(invoices.table, columns), invoices.next);
    return { invoices: rows };
  },
});
