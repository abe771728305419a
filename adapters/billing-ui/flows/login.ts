/** Signing on to BILLING/2000 with the gateway's own legacy user. Its sign-on screen is at /login. */
import { defineLogin, selectors } from '../../../src/kinds/screen/flow.ts';

const signOn = selectors({
  userId: '#userid',
  password: '#password',
  button: '#signon-button',
  errors: '#messages .msg.error',
  menu: '#menu',
});

export default defineLogin({
  isLoginScreen: (screen) => screen.url().pathname === '/login',
  async run(screen, { username, password }) {
    await screen.goto('/login');
    await screen.fill(signOn.userId, username);
    await screen.fill(signOn.password, password);
    await screen.click(signOn.button);
    const errors = await screen.readAll(signOn.errors);
    if (errors.length > 0) screen.loginRefused(errors.join(' '));
    if (!(await screen.isVisible(signOn.menu))) screen.unexpected('the main menu did not appear after signing on');
  },
});
