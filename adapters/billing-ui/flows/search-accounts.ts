/** searchAccounts: the account search screen, its result table and its "go to page" box. */
import { defineFlow, selectors, z } from '../../../src/kinds/screen/flow.ts';

const search = selectors({
  name: '#name',
  button: '#search-button',
  errors: '#messages .msg.error',
  info: '#messages .msg.info',
  results: 'table#results',
  pageInfo: '#page-info',
  gotoPage: '#goto-page',
  gotoButton: '#goto-button',
  next: 'a#next',
});

const columns = { accountNo: 'Account no.', holder: 'Account holder', status: 'Status' };

export default defineFlow({
  description: 'Account search: type the name, Search, go to the wanted page, read the result table',
  input: z.object({
    name: z.string().trim().min(2).max(30, 'the search screen takes at most 30 characters'),
    page: z.coerce.number().int().min(1).default(1),
  }),
  output: z.object({
    rows: z.array(z.object({ accountNo: z.string(), holder: z.string(), status: z.string() })),
    page: z.number().int(),
    hasMore: z.boolean(),
  }),
  async run(screen, { name, page }) {
    await screen.goto('/search');
    await screen.fill(search.name, name);
    await screen.click(search.button);
    const errors = await screen.readAll(search.errors);
    if (errors.length > 0) screen.refused(errors, [{ field: 'query.name', message: errors.join(' ') }]);
    if (!(await screen.isVisible(search.results))) {
      const info = await screen.readAll(search.info);
      if (info.some((m) => /no accounts match/i.test(m))) return { rows: [], page, hasMore: false };
      screen.unexpected('the search screen showed neither results nor a message');
    }
    if (page > 1) {
      const pages = Number(/of (\d+)/.exec(await screen.read(search.pageInfo))?.[1] ?? '1');
      if (page > pages) return { rows: [], page, hasMore: false };
      await screen.fill(search.gotoPage, String(page));
      await screen.click(search.gotoButton);
    }
    const rows = await screen.readTable(search.results, columns);
    return { rows, page, hasMore: await screen.isVisible(search.next) };
  },
});
