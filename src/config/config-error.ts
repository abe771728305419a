/**
 * A configuration mistake found at start-up. The message names the file, the line (where the file
 * has one), the key and the fix, so that an operator can correct it without reading the source.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly key: string;
  readonly problem: string;
  readonly fix: string;
  /** The line of `key` in `file` (1-based), when the file is one Ficus read and the key is in it (or its nearest parent). */
  line: number | undefined;

  constructor(file: string, key: string, problem: string, fix: string, line?: number) {
    super('');
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
    this.problem = problem;
    this.fix = fix;
    this.line = line;
    this.message = this.render();
  }

  /** Sets the line the mistake is at (once known) and updates the message. */
  at(line: number | undefined): this {
    if (line !== undefined && this.line === undefined) {
      this.line = line;
      this.message = this.render();
    }
    return this;
  }

  private render(): string {
    return `${this.file}${this.line !== undefined ? `:${this.line}` : ''}: ${this.key === '' ? '(top level)' : this.key}: ${this.problem}\n  fix: ${this.fix}`;
  }
}

/** Several config mistakes, reported together so a single start shows them all. */
export class ConfigErrors extends Error {
  readonly errors: ConfigError[];

  constructor(errors: ConfigError[]) {
    super(`Ficus cannot start: ${errors.length} configuration error${errors.length === 1 ? '' : 's'}\n\n` + errors.map((e) => e.message).join('\n\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
  }
}
