/**
 * One adapter's file, read for a look (`ficus explore`): its kind and its connection, `${env:…}`
 * filled in and checked by the kind's own schema (defaults applied), without loading the rest of
 * the project, so that a first look works before the project checks out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, ConfigErrors } from '../config/config-error.ts';
import { interpolateEnv, type Env } from '../config/env.ts';
import { zodToConfigErrors } from '../config/zod-errors.ts';
import { loadKind } from '../kinds/registry.ts';

export interface AdapterForExplore {
  name: string;
  kind: string;
  /** Absolute path of the adapter's folder. */
  dir: string;
  /** The adapter file, relative to the project, for messages. */
  file: string;
  root: string;
  connection: unknown;
  /** `operations:` as written (after `${env:…}`). */
  operations: Record<string, unknown>;
}

/** `adaptersDir:` of the project's ficus.yaml, else `adapters`. */
function adaptersDirOf(root: string): string {
  try {
    const raw = parseYaml(readFileSync(join(root, 'ficus.yaml'), 'utf8')) as { adaptersDir?: unknown } | null;
    if (raw && typeof raw.adaptersDir === 'string' && !raw.adaptersDir.includes('${')) return raw.adaptersDir;
  } catch {
    // no ficus.yaml yet, or a broken one (ficus check says which): the default folder
  }
  return 'adapters';
}

export async function readAdapter(root: string, name: string, env: Env, adaptersDir = adaptersDirOf(root)): Promise<AdapterForExplore> {
  const dir = join(root, adaptersDir, name);
  const path = join(dir, 'adapter.yaml');
  const file = relative(root, path) || path;
  if (!existsSync(path)) throw new ConfigErrors([new ConfigError(file, '', `no adapter ${name} (no ${file})`, `name a folder of ${join(root, adaptersDir)} that has an adapter.yaml`)]);
  const errors: ConfigError[] = [];
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigErrors([new ConfigError(file, '', `not valid YAML: ${(err as Error).message}`, 'correct the YAML')]);
  }
  const value = interpolateEnv(raw, env, file, errors) as { kind?: unknown; connection?: unknown; operations?: unknown } | null;
  const kindName = typeof value?.kind === 'string' ? value.kind : '';
  const kind = await loadKind(kindName);
  if (!kind) throw new ConfigErrors([new ConfigError(file, 'kind', `unknown kind "${kindName}"`, 'use db, sftp, screen or http')]);
  const parsed = kind.connectionSchema.safeParse(value?.connection ?? {});
  if (!parsed.success) errors.push(...zodToConfigErrors(parsed.error, kind.connectionSchema, file, 'connection'));
  if (errors.length > 0) throw new ConfigErrors(errors);
  const operations = value?.operations && typeof value.operations === 'object' ? (value.operations as Record<string, unknown>) : {};
  return { name, kind: kindName, dir, file, root, connection: parsed.data, operations };
}
