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
  for (const file of readdirSync(dir).filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts')).sort()) {
    const mod = (await import(join(dir, file))) as { register?: RegisterCommand };
    mod.register?.(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
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
