/**
 * The `tracing:` section of ficus.yaml and the standard OpenTelemetry environment variables, resolved
 * into one settings object before anything starts. Off by default. The environment wins over the
 * file, as every OpenTelemetry SDK reads it: `OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`,
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (and `..._TRACES_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL` (and
 * `..._TRACES_PROTOCOL`: `http/protobuf` or `http/json`), `OTEL_EXPORTER_OTLP_HEADERS` (and
 * `..._TRACES_HEADERS`), `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
 */
import { z } from 'zod';
import { ConfigError } from '../../config/config-error.ts';
import type { Env } from '../../config/env.ts';

const flag = z.union([z.boolean(), z.stringbool()]);

export const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
export type SamplerName = (typeof SAMPLERS)[number];
export const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof PROTOCOLS)[number];

export const tracingConfigSchema = z
  .object({
    /** Export traces (also switched on by `OTEL_EXPORTER_OTLP_ENDPOINT`, off again by `OTEL_SDK_DISABLED=true`). */
    enabled: flag.default(false),
    /** The collector's base URL; traces go to `<endpoint>/v1/traces` (as `OTEL_EXPORTER_OTLP_ENDPOINT`). */
    endpoint: z.url().optional(),
    protocol: z.enum(PROTOCOLS).default('http/protobuf'),
    /** `service.name` of every span. */
    serviceName: z.string().min(1).default('ficus'),
    /** Share of new traces sampled, 0 to 1 (a caller's sampled flag is followed: parent-based). */
    sampleRatio: z.coerce.number().min(0).max(1).default(1),
    /** Headers sent with every export (an API key from the environment, say). */
    headers: z.record(z.string(), z.string()).default({}),
    /** How long an export may take. */
    exportTimeoutMs: z.coerce.number().int().min(1).default(10_000),
  })
  .strict();
export type TracingConfig = z.infer<typeof tracingConfigSchema>;

/** What the gateway traces with, once the file and the environment are read. */
export interface TracingSettings {
  serviceName: string;
  /** Full URL spans are posted to. */
  url: string;
  protocol: OtlpProtocol;
  sampler: SamplerName;
  ratio: number;
  headers: Record<string, string>;
  exportTimeoutMs: number;
}

const DEFAULT_ENDPOINT = 'http://localhost:4318';

function parseHeaders(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

function validUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * The settings tracing runs with, `undefined` when it is off, or the mistakes (an environment
 * variable is reported by its name, a file key by its key: `file` and `key` of each error).
 */
export function resolveTracing(config: TracingConfig, env: Env, file: string): { settings?: TracingSettings; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const envError = (name: string, problem: string, fix: string) => errors.push(new ConfigError('environment', name, problem, fix));
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };

  const disabledText = get('OTEL_SDK_DISABLED');
  let disabled = false;
  if (disabledText !== undefined) {
    if (!/^(true|false)$/i.test(disabledText)) envError('OTEL_SDK_DISABLED', `"${disabledText}" is neither true nor false`, 'set OTEL_SDK_DISABLED=true to turn tracing off, or unset it');
    else disabled = disabledText.toLowerCase() === 'true';
  }

  const tracesEndpoint = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  for (const [name, v] of [
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint],
  ] as const) {
    if (v !== undefined && !validUrl(v)) envError(name, `"${v}" is not an http(s) URL`, `give the collector's OTLP/HTTP address, e.g. ${name}=http://127.0.0.1:4318`);
  }
  let url: string;
  // (As the SDKs do: the signal's own endpoint is used as given, the base one gets /v1/traces.)
  if (tracesEndpoint !== undefined) url = tracesEndpoint;
  else url = `${(baseEndpoint ?? config.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;

  const protocolText = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? get('OTEL_EXPORTER_OTLP_PROTOCOL');
  let protocol: OtlpProtocol = config.protocol;
  if (protocolText !== undefined) {
    const name = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    if ((PROTOCOLS as readonly string[]).includes(protocolText)) protocol = protocolText as OtlpProtocol;
    else
      envError(
        name,
        `protocol "${protocolText}" is not one Ficus exports with${protocolText === 'grpc' ? ' (gRPC is not supported)' : ''}`,
        `set ${name} to http/protobuf or http/json (a collector's OTLP/HTTP port, 4318)`,
      );
  }

  const samplerText = get('OTEL_TRACES_SAMPLER');
  let sampler: SamplerName = 'parentbased_traceidratio';
  if (samplerText !== undefined) {
    if ((SAMPLERS as readonly string[]).includes(samplerText)) sampler = samplerText as SamplerName;
    else envError('OTEL_TRACES_SAMPLER', `sampler "${samplerText}" is unknown`, `use one of ${SAMPLERS.join(', ')}`);
  }
  let ratio = config.sampleRatio;
  const argText = get('OTEL_TRACES_SAMPLER_ARG');
  if (argText !== undefined && sampler.endsWith('traceidratio')) {
    const n = Number(argText);
    if (!Number.isFinite(n) || n < 0 || n > 1) envError('OTEL_TRACES_SAMPLER_ARG', `"${argText}" is not a ratio between 0 and 1`, 'give the share of traces sampled, e.g. OTEL_TRACES_SAMPLER_ARG=0.1');
    else ratio = n;
  }

  let headers = { ...config.headers };
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const text = get(name);
    if (text === undefined) continue;
    const parsed = parseHeaders(text);
    if (!parsed) envError(name, 'is not a list of name=value pairs', `write it as ${name}=api-key=abc,other=value (values URL-encoded)`);
    else headers = { ...headers, ...parsed };
  }

  const enabled = !disabled && (config.enabled || baseEndpoint !== undefined || tracesEndpoint !== undefined);
  if (errors.length > 0 || !enabled) return { errors };
  void file;
  return {
    errors,
    settings: { serviceName: get('OTEL_SERVICE_NAME') ?? config.serviceName, url, protocol, sampler, ratio, headers, exportTimeoutMs: config.exportTimeoutMs },
  };
}
