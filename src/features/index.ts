/**
 * The features every gateway installs, in order: a feature's hooks wrap those of the features after
 * it (writes outermost, so the idempotency hook sees the final answer). The change feeds (no hooks)
 * come before the cache, which hears their events. A new feature is a module
 * that exports a `Feature` (./feature.ts) and one line here; src/gateway.ts and src/http/app.ts do
 * not change.
 */
import { changesFeature } from '../changes/install.ts';
import { cacheFeature } from '../cache/cache-feature.ts';
import { controlFeature } from '../control/control-feature.ts';
import { recordingFeature } from '../recording/attach.ts';
import { writesFeature } from '../writes/install.ts';
import { tracingFeature } from '../observability/tracing/tracing-feature.ts';
import { opsMetricsFeature } from '../observability/ops-metrics.ts';
import { limitsFeature } from '../limits/limits-feature.ts';
import { securityFeature } from '../security/security-feature.ts';
import type { Feature } from './feature.ts';

export const BUILTIN_FEATURES: readonly Feature[] = [tracingFeature, writesFeature, recordingFeature, changesFeature, cacheFeature, controlFeature, securityFeature, limitsFeature, opsMetricsFeature];
