/**
 * What replay needs from a project, without starting it: the contract, the routes' comparison ignore
 * rules, the recording section (where recordings are, what is redacted) and the redaction key.
 * Only those keys of ficus.yaml are read, so a replay against a URL works where adapters could not start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigErrors } from '../config/config-error.ts';
import { interpolateEnv, type Env } from '../config/env.ts';
import { gatewayConfigSchema } from '../config/gateway-config.ts';
import { zodToConfigErrors } from '../config/zod-errors.ts';
import { Contract } from '../contract/contract.ts';
import { recordingKey } from '../recording/attach.ts';
import type { RecordingConfig } from '../recording/recording-config.ts';
import { Redactor } from '../recording/redactor.ts';

export interface ReplayProject {
  root: string;
  file: string;
  contract: Contract;
  recording: RecordingConfig;
  ignoreByOperation: Record<string, string[]>;
  headersByOperation: Record<string, { headers: string[]; ignoreHeaders: string[] }>;
  redactor: Redactor;
  developmentKey: boolean;
}

const replaySchema = gatewayConfigSchema.pick({ contract: true, routes: true, recording: true });

export function loadReplayProject(opts: { root: string; file?: string; env: Env }): ReplayProject {
  const root = resolve(opts.root);
  const path = resolve(root, opts.file ?? 'ficus.yaml');
  const display = relative(process.cwd(), path) || path;
  let raw: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      raw = (parseYaml(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigErrors([new ConfigError(display, '', `not valid YAML: ${(err as Error).message}`, 'correct the YAML syntax')]);
    }
  } else if (opts.file) {
    throw new ConfigErrors([new ConfigError(display, '', 'file not found', 'give the path of an existing gateway config')]);
  }
  const errors: ConfigError[] = [];
  const picked = interpolateEnv({ contract: raw.contract, routes: raw.routes, recording: raw.recording }, opts.env, display, errors);
  const parsed = replaySchema.safeParse(picked);
  if (!parsed.success) throw new ConfigErrors([...errors, ...zodToConfigErrors(parsed.error, replaySchema, display)]);
  if (errors.length > 0) throw new ConfigErrors(errors);
  const cfg = parsed.data;
  let contract: Contract;
  try {
    contract = Contract.load(resolve(root, cfg.contract));
  } catch (err) {
    throw new ConfigErrors([new ConfigError(display, 'contract', (err as Error).message, 'point contract at an OpenAPI 3.0 or 3.1 document (replay reads one self-contained file)')]);
  }
  const recording = cfg.recording as RecordingConfig;
  const ignoreByOperation: Record<string, string[]> = {};
  const headersByOperation: Record<string, { headers: string[]; ignoreHeaders: string[] }> = {};
  for (const [op, r] of Object.entries(cfg.routes)) {
    const compare = (r as { compare?: { ignore?: string[]; headers?: string[]; ignoreHeaders?: string[] } }).compare;
    if (compare?.ignore && compare.ignore.length > 0) ignoreByOperation[op] = compare.ignore;
    if (compare?.headers && compare.headers.length > 0) headersByOperation[op] = { headers: compare.headers, ignoreHeaders: compare.ignoreHeaders ?? [] };
  }
  const key = recordingKey(opts.env);
  const redactor = new Redactor({
    contract,
    key: key.key,
    redact: recording.redact,
    redactByOperation: Object.fromEntries(Object.entries(recording.routes).map(([op, r]) => [op, r.redact])),
    headers: recording.headers,
  });
  return { root, file: display, contract, recording, ignoreByOperation, headersByOperation, redactor, developmentKey: key.development };
}
