/** A scaffold that cannot be written as asked: what is wrong, and the fix (the commands print both and exit 2). */
export class ScaffoldError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'ScaffoldError';
  }
}
