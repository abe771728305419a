/**
 * The admin API from a terminal: what `ficus routes`, `ficus record` and `ficus dlq` share. The URL
 * and token come from FICUS_ADMIN_URL and FICUS_ADMIN_TOKEN, or --url/--token; `--json` prints the
 * API's answer as is. Exit codes: 0 done; 2 bad usage; 3 the admin API cannot be reached; 4 it
 * refused the request (nothing changed); 5 it failed.
 */
import type { Command } from 'commander';
import { request } from 'undici';

export const EXIT = { ok: 0, usage: 2, unreachable: 3, refused: 4, failed: 5 } as const;

export interface AdminOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** Ends a command with a message on stderr and an exit code. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the admin API; its answer parsed, or a CliExit that says what went wrong. */
export async function callAdmin(opts: AdminOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = (opts.url ?? process.env.FICUS_ADMIN_URL ?? '').replace(/\/+$/, '');
  const token = opts.token ?? process.env.FICUS_ADMIN_TOKEN;
  if (!base) throw new CliExit(EXIT.usage, 'no admin API URL: set FICUS_ADMIN_URL (e.g. http://127.0.0.1:8090) or pass --url');
  if (!token) throw new CliExit(EXIT.usage, "no admin token: set FICUS_ADMIN_TOKEN to one of the gateway's FICUS_ADMIN_TOKENS, or pass --token");
  let status: number;
  let text: string;
  try {
    // `reset`: close the connection after the answer, so the command exits at once.
    const res = await request(base + path, {
      method: method as 'GET' | 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
      reset: true,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    throw new CliExit(EXIT.unreachable, `cannot reach the admin API at ${base}: ${e.code ?? e.cause?.code ?? e.message ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliExit(EXIT.failed, `the admin API at ${base} answered ${status} with something that is not JSON (is --url the admin port?)`);
  }
  if (status >= 400) {
    const p = (parsed ?? {}) as { title?: string; detail?: string; errors?: { field: string; message: string }[] };
    const lines = [`${status} ${p.title ?? 'error'}${p.detail ? `: ${p.detail}` : ''}`];
    for (const e of p.errors ?? []) if (!p.detail?.includes(e.message)) lines.push(`  ${e.field}: ${e.message}`);
    if (opts.json) process.stdout.write(JSON.stringify(parsed, null, 2) + '\n');
    throw new CliExit(status >= 500 ? EXIT.failed : EXIT.refused, lines.join('\n') + (status < 500 ? '\nnothing was changed' : ''));
  }
  return parsed;
}

/** Adds --url, --token and --json to a command. */
export function adminOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'admin API URL (default: $FICUS_ADMIN_URL)')
    .option('--token <token>', 'admin token (default: $FICUS_ADMIN_TOKEN)')
    .option('--json', "print the admin API's JSON answer, for scripts", false);
}

/** Wraps a command's action: a CliExit becomes `ficus <name>: message` on stderr and its exit code. */
export function runCommand<A extends unknown[]>(name: string, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode = EXIT.ok;
    } catch (err) {
      if (!(err instanceof CliExit)) throw err;
      process.stderr.write(`ficus ${name}: ${err.message}\n`);
      process.exitCode = err.code;
    }
  };
}
