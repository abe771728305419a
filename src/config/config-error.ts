/**
 * A configuration mistake found at start-up. The message names the file, the key and the fix, so
 * that an operator can correct it without reading the source.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly key: string;
  readonly fix: string;

  constructor(file: string, key: string, problem: string, fix: string) {
    super(`${file}: ${key === '' ? '(top level)' : key}: ${problem}\n  fix: ${fix}`);
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
    this.fix = fix;
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
