/**
 * The `ficus` command. Each file in ./commands adds one command (or a group) to the program, so a
 * feature brings its own commands without touching this file.
 */
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigErrors } from '../config/config-error.ts';

export type RegisterCommand = (program: Command) => void;

export async function buildProgram(): Promise<Command> {
  const program = new Command('ficus')
    .description('Ficus: a strangler-fig gateway that serves an OpenAPI contract from legacy systems and migrates it route by route')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  for (const file of readdirSync(dir)
    .filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))
    .sort()) {
    const mod = (await import(join(dir, file))) as { register?: RegisterCommand };
    mod.register?.(program);
  }
  return program;
}

/** The exit code of bad usage, for every command (README: "2 bad usage"). */
const USAGE = 2;

function isBrokenPipe(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EPIPE';
}

/**
 * Ends the process quietly, with 0, when the reader of stdout or stderr goes away (`ficus … | head`):
 * what Unix tools do on SIGPIPE, instead of an unhandled 'error' event's stack trace. Only for the
 * real command (bin/ficus.js); tests run `main` inside their own process.
 */
export function exitQuietlyOnBrokenPipe(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: unknown) => {
      if (isBrokenPipe(err)) process.exit(0);
      throw err;
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with 0; every other CommanderError is bad usage (an unknown command
      // or option, a missing argument, a bad choice, a group without its command): 2, as documented.
      process.exitCode = err.exitCode === 0 ? 0 : USAGE;
      return;
    }
    if (isBrokenPipe(err)) {
      process.exitCode = 0;
      return;
    }
    if (err instanceof ConfigErrors) {
      process.stderr.write(err.message + '\n');
      process.exitCode = 78; // EX_CONFIG
      return;
    }
    process.stderr.write(`ficus: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
