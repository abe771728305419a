/** Plugs the migration modes (shadow, canary, fallback) into the dispatcher; imported once by the gateway. */
import { registerMode } from '../dispatch.ts';
import { canaryMode } from './canary.ts';
import { fallbackMode } from './fallback.ts';
import { shadowMode } from './shadow.ts';

registerMode('shadow', shadowMode);
registerMode('canary', canaryMode);
registerMode('fallback', fallbackMode);

export { canaryBackend } from './canary.ts';
export { FALLBACK_HEADER } from './fallback.ts';
