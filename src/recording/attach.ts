/**
 * Plugs recording into a gateway: the after-hook, the admin routes under /recording, and a close
 * hook that writes out whatever is queued. Reads the `recording:` section of ficus.yaml and the
 * redaction key from FICUS_RECORDING_KEY.
 */
import { isAbsolute, join } from 'node:path';
import { Gauge } from 'prom-client';
import { ConfigError } from '../config/config-error.ts';
import type { Env } from '../config/env.ts';
import type { CheckedConfig, Feature, FeatureHost, InstalledFeature } from '../features/feature.ts';
import { recordingAdminRouter } from './admin-router.ts';
import { Recorder } from './recorder.ts';
import type { RecordingConfig } from './recording-config.ts';
import { DEV_RECORDING_KEY, Redactor } from './redactor.ts';
import { SegmentFiles } from './segment-files.ts';

export const RECORDING_KEY_ENV = 'FICUS_RECORDING_KEY';
const COUNT_FLUSH_MS = 30_000;

export function recordingKey(env: Env): { key: string; development: boolean } {
  const key = env[RECORDING_KEY_ENV];
  return key ? { key, development: false } : { key: DEV_RECORDING_KEY, development: true };
}

export function redactorFor(gateway: { config: Pick<CheckedConfig, 'gateway' | 'contract'> }, env: Env): Redactor {
  const rc = gateway.config.gateway.recording as RecordingConfig;
  return new Redactor({
    contract: gateway.config.contract,
    key: recordingKey(env).key,
    redact: rc.redact,
    redactByOperation: Object.fromEntries(Object.entries(rc.routes).map(([op, r]) => [op, r.redact])),
    headers: rc.headers,
  });
}

function checkConfig(config: CheckedConfig): ConfigError[] {
  const rc = config.gateway.recording as RecordingConfig;
  const errors: ConfigError[] = [];
  for (const op of Object.keys(rc.routes)) {
    if (!config.contract.has(op))
      errors.push(new ConfigError(config.file, `recording.routes.${op}`, `operation "${op}" is not in the contract`, `use an operationId of the contract: ${config.contract.operationIds.join(', ')}`));
  }
  return errors;
}

/** Recording exchanges for replay: `gateway.feature<Recorder>('recording')`. */
export const recordingFeature: Feature<Recorder> = { name: 'recording', checkConfig, install: attachRecording };

async function attachRecording(gateway: FeatureHost): Promise<InstalledFeature<Recorder>> {
  const env = gateway.env;
  const rc = gateway.config.gateway.recording as RecordingConfig;
  const { development } = recordingKey(env);
  const keyWarning = `recording with the development redaction key; set ${RECORDING_KEY_ENV} so that redacted values cannot be guessed`;
  if (development && Object.keys(rc.routes).length > 0) gateway.logger.warn(keyWarning);
  const dir = isAbsolute(rc.dir) ? rc.dir : join(gateway.config.root, rc.dir);
  const files = new SegmentFiles({ dir, maxFileBytes: rc.maxFileSize, rollEveryMs: rc.rollEvery, retention: { maxTotalBytes: rc.maxTotalSize, maxAgeMs: rc.maxAge } });
  // What grew past the limits while the gateway was down goes at start too.
  files.retain();
  const recorder = new Recorder({
    contract: gateway.config.contract,
    redactor: redactorFor(gateway, env),
    files,
    logger: gateway.logger.child({ component: 'recorder' }),
    queueLimit: rc.queueLimit,
    initial: rc.routes,
    onStart: development ? () => gateway.logger.warn(keyWarning) : undefined,
  });
  // Counts since start, read from the recorder when Prometheus scrapes (nothing on the caller's path).
  const registers = [gateway.metrics.registry];
  new Gauge({
    name: 'ficus_recording_exchanges',
    help: 'Exchanges since start by operation and outcome: recorded (written, duplicates included), collapsed (a duplicate: counted on an earlier line), dropped (queue full or write failed)',
    labelNames: ['operation', 'outcome'],
    registers,
    collect() {
      for (const r of recorder.status().routes) {
        this.set({ operation: r.operationId, outcome: 'recorded' }, r.recorded);
        this.set({ operation: r.operationId, outcome: 'collapsed' }, r.collapsed);
        this.set({ operation: r.operationId, outcome: 'dropped' }, r.dropped);
      }
    },
  });
  new Gauge({
    name: 'ficus_recording_queue',
    help: 'Exchanges waiting to be redacted and written',
    registers,
    collect() {
      this.set(recorder.status().queued);
    },
  });
  // Counts of collapsed duplicates reach the files on roll and flush; flush now and then as well.
  const timer = setInterval(() => void recorder.flush().catch((err: unknown) => gateway.logger.error({ err }, 'recording flush failed')), COUNT_FLUSH_MS);
  timer.unref();
  return {
    api: recorder,
    hooks: [recorder.hook()],
    adminRouters: [{ prefix: '/recording', router: recordingAdminRouter(recorder) }],
    close: async () => {
      clearInterval(timer);
      await recorder.close();
    },
  };
}
