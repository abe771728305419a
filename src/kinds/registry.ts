/**
 * The kinds the gateway knows, loaded on first use so that a gateway without screen adapters never
 * loads a browser driver. Adding a kind is one line here.
 */
import type { RegisteredKind } from './kind.ts';

const loaders: Record<string, () => Promise<RegisteredKind>> = {
  http: async () => (await import('./http/http-kind.ts')).httpKind,
  sftp: async () => (await import('./sftp/sftp-kind.ts')).sftpKind,
  db: async () => (await import('./db/db-kind.ts')).dbKind,
  screen: async () => (await import('./screen/screen-kind.ts')).screenKind,
  recorded: async () => (await import('./recorded/recorded-kind.ts')).recordedKind,
};

export const KIND_NAMES: readonly string[] = Object.keys(loaders);

export async function loadKind(name: string): Promise<RegisteredKind | undefined> {
  const load = loaders[name];
  return load ? load() : undefined;
}
