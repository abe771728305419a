/**
 * `ficus consumers …`: the callers the front door knows, and their API keys, through the admin API.
 *
 *   ficus consumers add <name> [--description "…"]
 *   ficus consumers list
 *   ficus consumers keys list <consumer>
 *   ficus consumers keys issue <consumer>            prints the key once; only its hash is kept
 *   ficus consumers keys rotate <consumer> [--grace 1h]   a new key; the others stop after the grace
 *   ficus consumers keys revoke <consumer> <keyId>   ficus consumers keys revoke <consumer> --all
 *   ficus consumers hash-password                    reads a password on stdin, prints user:hash material for basic auth
 *
 * Exit codes as for every admin command: 0 done; 2 bad usage; 3 unreachable; 4 refused; 5 failed.
 */
import type { Command } from 'commander';
import { hashPassword } from '../../security/basic-credentials.ts';
import { CliExit, EXIT, adminOptions, callAdmin, runCommand, type AdminOptions } from '../admin-client.ts';

const run = (fn: () => Promise<void>): Promise<void> => runCommand('consumers', fn)();
const print = (o: AdminOptions, value: unknown, text: () => string) => process.stdout.write((o.json ? JSON.stringify(value, null, 2) : text()) + '\n');
const enc = encodeURIComponent;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function register(program: Command): void {
  const consumers = program.command('consumers').description('the callers the front door knows by name, and their API keys');

  adminOptions(consumers.command('add <name>').description('add a consumer'))
    .option('--description <text>', 'who or what it is', '')
    .action((name: string, o: AdminOptions & { description: string }) =>
      run(async () => {
        const out = await callAdmin(o, 'POST', '/consumers', { name, description: o.description });
        print(o, out, () => `added consumer ${name}; issue it a key with: ficus consumers keys issue ${name}`);
      }),
    );

  adminOptions(consumers.command('list').description('every consumer, with its active keys')).action((o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'GET', '/consumers')) as { consumers: { name: string; activeKeys: number; createdAt: string; description: string }[] };
      print(o, out, () =>
        out.consumers.length === 0
          ? 'no consumers yet (ficus consumers add <name>)'
          : table([['NAME', 'KEYS', 'CREATED', 'DESCRIPTION'], ...out.consumers.map((c) => [c.name, String(c.activeKeys), c.createdAt, c.description])]),
      );
    }),
  );

  const keys = consumers.command('keys').description("a consumer's API keys");
  adminOptions(keys.command('list <consumer>').description("the consumer's keys (ids and dates; a key itself is shown only when issued)")).action((consumer: string, o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'GET', `/consumers/${enc(consumer)}/keys`)) as { keys: { id: string; createdAt: string; revokedAt: string | null; expiresAt: string | null }[] };
      print(o, out, () =>
        out.keys.length === 0
          ? `${consumer} has no keys`
          : table([['ID', 'CREATED', 'STATE'], ...out.keys.map((k) => [k.id, k.createdAt, k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `retires ${k.expiresAt}` : 'active'])]),
      );
    }),
  );
  adminOptions(keys.command('issue <consumer>').description('issue a key (printed once: keep it; only its hash is stored)')).action((consumer: string, o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'POST', `/consumers/${enc(consumer)}/keys`)) as { id: string; key: string };
      print(o, out, () => `key ${out.id} for ${consumer} (shown only now):\n${out.key}`);
    }),
  );
  adminOptions(keys.command('rotate <consumer>').description("issue a new key; the consumer's other keys stop working after --grace"))
    .option('--grace <duration>', 'how long the old keys keep working: 0, 15m, 1h, 7d', '0')
    .action((consumer: string, o: AdminOptions & { grace: string }) =>
      run(async () => {
        const out = (await callAdmin(o, 'POST', `/consumers/${enc(consumer)}/keys/rotate`, { grace: o.grace })) as { id: string; key: string; retiring: string[]; retireAt: string };
        print(
          o,
          out,
          () =>
            `key ${out.id} for ${consumer} (shown only now):\n${out.key}\n${out.retiring.length > 0 ? `keys ${out.retiring.join(', ')} stop working at ${out.retireAt}` : 'no other keys to retire'}`,
        );
      }),
    );
  adminOptions(keys.command('revoke <consumer> [keyId]').description('revoke one key, or every key of the consumer with --all'))
    .option('--all', 'revoke every key of the consumer', false)
    .action((consumer: string, keyId: string | undefined, o: AdminOptions & { all: boolean }) =>
      run(async () => {
        if ((keyId === undefined) === !o.all) throw new CliExit(EXIT.usage, 'give a key id, or --all (not both)');
        const out = (await callAdmin(o, 'DELETE', keyId ? `/consumers/${enc(consumer)}/keys/${enc(keyId)}` : `/consumers/${enc(consumer)}/keys`)) as { revoked: number };
        print(o, out, () => `revoked ${out.revoked} key(s) of ${consumer}`);
      }),
    );

  consumers
    .command('hash-password')
    .description('read a password on stdin and print its scrypt hash, for basic credentials (user:hash)')
    .action(() =>
      run(async () => {
        const password = await readStdin();
        if (password === '') throw new CliExit(EXIT.usage, 'no password on stdin (echo -n secret | ficus consumers hash-password)');
        process.stdout.write(`${await hashPassword(password)}\n`);
      }),
    );
}
