/** getAccount: the account's detail screen, read field by field. */
import { defineFlow, z } from '../../../src/kinds/screen/flow.ts';
import { accountNo, accountScreen, openAccount, readAccount } from './account-screen.ts';

export default defineFlow({
  description: 'Account inquiry: type the number, Display, read the labelled fields',
  input: z.object({ accountId: accountNo }),
  output: accountScreen,
  async run(screen, { accountId }) {
    await openAccount(screen, accountId);
    return readAccount(screen);
  },
});
