/**
 * `${env:NAME}` and `${env:NAME:-default}` in config values are read from the environment.
 * Secrets (passwords, keys, tokens) must come from the environment, never from a file.
 */
import { ConfigError } from './config-error.ts';

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const SECRET_KEY = /(password|passphrase|secret|token|privatekey|apikey|credentials)$/i;

export type Env = Readonly<Record<string, string | undefined>>;

/** Replaces every env reference in every string of `value`; collects one error per missing variable. */
export function interpolateEnv(value: unknown, env: Env, file: string, errors: ConfigError[], key = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      errors.push(new ConfigError(file, key, `environment variable ${name} is not set`, `set ${name} in the environment, or give a default: \${env:${name}:-value}`));
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, file, errors, `${key}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, file, errors, key === '' ? k : `${key}.${k}`);
    return out;
  }
  return value;
}

/** Secret-looking keys must be env references; a literal secret in a file is refused. */
export function checkSecretsFromEnv(value: unknown, file: string, errors: ConfigError[], key = ''): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkSecretsFromEnv(v, file, errors, `${key}[${i}]`));
    return;
  }
  if (!value || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const path = key === '' ? k : `${key}.${k}`;
    if (typeof v === 'string' && SECRET_KEY.test(k) && v !== '' && !/^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$/.test(v)) {
      errors.push(new ConfigError(file, path, 'a secret is written in the file', `put it in an environment variable and write ${k}: \${env:SOME_NAME} (no default: a secret has none)`));
    } else {
      checkSecretsFromEnv(v, file, errors, path);
    }
  }
}
