/**
 * `ficus replay` as a function: reads the recordings, sets up the target (a URL, or the project's
 * gateway in this process with every call sent to legacy or modern), runs the baseline and the
 * replay, and writes the reports. The CLI command and the tests both call it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Env } from '../config/env.ts';
import type { Logger } from '../observability/logger.ts';
import { summaryText, type Progress } from './console-report.ts';
import { htmlReport } from './html-report.ts';
import { junitXml } from './junit-report.ts';
import { readRecordings } from './recording-reader.ts';
import { exitCodeOf, replay, type ReplayRun } from './replay-engine.ts';
import { loadReplayProject } from './replay-project.ts';
import { InProcessGatewayTarget, UrlTarget, type BackendName, type ReplayTarget } from './replay-target.ts';

export interface RunReplayOptions {
  /** Recording files or folders; default the project's recording folder. */
  paths?: string[];
  /** `legacy`, `modern` or a base URL. */
  against: string;
  root?: string;
  config?: string;
  env?: Env;
  concurrency?: number;
  ratePerSecond?: number;
  unsafe?: boolean;
  baseline?: boolean;
  /** Extra ignore rules for every operation. */
  ignore?: string[];
  junit?: string;
  html?: string;
  progress?: Progress;
  logger?: Logger;
  /** A gateway of this project already started (and left running afterwards), instead of starting one. */
  gateway?: InProcessGatewayTarget;
}

export interface RunReplayResult {
  run: ReplayRun;
  exitCode: number;
  summary: string;
}

export async function runReplay(opts: RunReplayOptions): Promise<RunReplayResult> {
  const root = resolve(opts.root ?? '.');
  const env = opts.env ?? process.env;
  const concurrency = opts.concurrency ?? 8;
  const project = loadReplayProject({ root, file: opts.config, env });
  const recordingDir = isAbsolute(project.recording.dir) ? project.recording.dir : join(root, project.recording.dir);
  const paths = opts.paths && opts.paths.length > 0 ? opts.paths : [recordingDir];
  const { items, bad } = await readRecordings(paths, project.contract, project.redactor);

  const isBackend = opts.against === 'legacy' || opts.against === 'modern';
  if (!isBackend && !/^https?:\/\//.test(opts.against)) {
    throw new Error(`--against must be legacy, modern or a base URL such as http://127.0.0.1:8080, got "${opts.against}"`);
  }
  let gateway: InProcessGatewayTarget | undefined = opts.gateway;
  const targets: ReplayTarget[] = [];
  try {
    if (!gateway && (isBackend || opts.baseline)) {
      gateway = await InProcessGatewayTarget.start({ root, file: opts.config, env, logger: opts.logger, connections: concurrency });
      targets.push(gateway);
    }
    let target: ReplayTarget;
    if (isBackend && gateway) target = gateway.forBackend(opts.against as BackendName);
    else {
      target = new UrlTarget(opts.against, concurrency);
      targets.push(target);
    }
    // The baseline goes to the same in-process gateway, each call to the backend that recorded the exchange.
    const baselineTarget: ReplayTarget | undefined = opts.baseline && gateway ? { ...gateway.forBackend(undefined), name: 'recorded backend' } : undefined;
    const run = await replay(items, bad, {
      contract: project.contract,
      redactor: project.redactor,
      target,
      baselineTarget,
      concurrency,
      ratePerSecond: opts.ratePerSecond,
      unsafe: opts.unsafe,
      ignore: opts.ignore,
      ignoreByOperation: project.ignoreByOperation,
      headersByOperation: project.headersByOperation,
      onProgress: opts.progress ? (phase, done, total) => opts.progress?.update(phase, done, total) : undefined,
    });
    opts.progress?.stop();
    const keys = new Set(items.map((i) => i.exchange.key).filter((k) => k !== '' && k !== project.redactor.keyId));
    if (keys.size > 0) {
      run.bad.push({
        file: '(redaction key)',
        line: 0,
        reason: `some recordings were redacted with key ${[...keys].join(', ')} and this replay uses ${project.redactor.keyId}: redacted fields will differ; set FICUS_RECORDING_KEY to the key the recording was made with`,
      });
    }
    if (opts.junit) write(opts.junit, junitXml(run));
    if (opts.html) write(opts.html, htmlReport(run));
    return { run, exitCode: exitCodeOf(run), summary: summaryText(run) };
  } finally {
    for (const t of targets) await t.close().catch(() => undefined);
  }
}

function write(file: string, text: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, text);
}
