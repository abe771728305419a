/**
 * The legacy session the pool's pages share: signed on once with the gateway's own legacy
 * credentials, kept as Playwright storage state (cookies) that every page carries, and renewed
 * (once, whichever page notices first) when the legacy app shows its sign-on screen again.
 */
import type { Logger } from '../../observability/logger.ts';
import type { Slot, StorageState } from './browser-pool.ts';
import type { Credentials, LoginFlow } from './flow.ts';
import { Screen } from './screen.ts';
import { LegacyLoginRefused } from './screen-errors.ts';

export class SessionKeeper {
  state: StorageState | undefined;
  /** Bumped at each sign-on; a page whose version is older carries a stale session. */
  version = 0;
  signOns = 0;
  /** The legacy app's words when it last refused the credentials (cleared by a good sign-on). */
  refusal: string | undefined;
  private refusedAt = 0;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly login: LoginFlow | undefined,
    private readonly credentials: Credentials | undefined,
    private readonly baseUrl: string,
    private readonly logger: Logger,
    /** After a refusal, sign-on is not tried again for this long (so as not to lock the legacy user out). */
    private readonly refusalBackoffMs = 30_000,
  ) {}

  get enabled(): boolean {
    return this.login !== undefined;
  }

  isLoginScreen(screen: Screen): boolean | Promise<boolean> {
    return this.login ? this.login.isLoginScreen(screen) : false;
  }

  /** Gives a page the newest session before a flow; signs on if nobody has yet. */
  async prepare(slot: Slot, signal: AbortSignal): Promise<void> {
    if (!this.login) return;
    if (this.version === 0) return this.renew(slot, 0, signal);
    if (slot.sessionVersion < this.version && this.state) {
      await slot.context.clearCookies();
      await slot.context.addCookies(this.state.cookies);
      slot.sessionVersion = this.version;
    }
  }

  /** Signs on again in this page, unless another page already did since version `seen`. */
  async renew(slot: Slot, seen: number, signal: AbortSignal): Promise<void> {
    if (this.version > seen) return this.prepare(slot, signal);
    if (this.refusal !== undefined && Date.now() - this.refusedAt < this.refusalBackoffMs) throw new LegacyLoginRefused(this.refusal);
    if (this.renewing) {
      await this.renewing;
      return this.prepare(slot, signal);
    }
    this.renewing = this.signOn(slot, signal).finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async signOn(slot: Slot, signal: AbortSignal): Promise<void> {
    if (!this.login || !this.credentials) return;
    const started = performance.now();
    const screen = new Screen(slot.page, { baseUrl: this.baseUrl, signal });
    try {
      await this.login.run(screen, this.credentials);
    } catch (err) {
      if (err instanceof LegacyLoginRefused) {
        this.refusal = err.words;
        this.refusedAt = Date.now();
        this.logger.error({ user: this.credentials.username, said: err.words }, 'the legacy app refused the gateway’s credentials');
      }
      throw err;
    }
    this.state = await slot.context.storageState();
    this.version++;
    this.signOns++;
    this.refusal = undefined;
    slot.sessionVersion = this.version;
    this.logger.info({ user: this.credentials.username, ms: Math.round(performance.now() - started), signOns: this.signOns }, 'signed on to the legacy app');
  }
}
