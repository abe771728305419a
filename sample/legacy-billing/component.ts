/**
 * The legacy billing web app as a component of the sample estate: started on a free loopback port,
 * its URL and the gateway's legacy credentials handed to the billing-ui adapter through the
 * environment (LEGACY_BILLING_URL, BILLING_UI_USER, BILLING_UI_PASSWORD). Its slowness is set with
 * LEGACY_BILLING_DELAY_MS and LEGACY_BILLING_JITTER_MS (default 40 + up to 60 ms a page).
 */
import type { EstateComponent } from '../estate.ts';
import { SAMPLE_PASSWORD, SAMPLE_USER, startLegacyBilling } from './server.ts';

const NAME = 'legacy billing web app';

export const legacyBillingComponent: EstateComponent = {
  name: NAME,
  async start() {
    const app = await startLegacyBilling({
      delayMs: Number(process.env.LEGACY_BILLING_DELAY_MS ?? 40),
      jitterMs: Number(process.env.LEGACY_BILLING_JITTER_MS ?? 60),
    });
    return {
      name: NAME,
      url: `${app.url}/login  (user ${SAMPLE_USER}, password ${SAMPLE_PASSWORD})`,
      env: { LEGACY_BILLING_URL: app.url, BILLING_UI_USER: SAMPLE_USER, BILLING_UI_PASSWORD: SAMPLE_PASSWORD },
      stop: app.close,
    };
  },
};
