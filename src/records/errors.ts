/** Errors of the record codecs: every one says where (record, byte offset, field) and why. */

/** A fault inside one field, raised by the field codecs; the record codec adds the field's path. */
export class FieldFault extends Error {
  constructor(
    readonly reason: string,
    /** Byte offset of the fault within the buffer being decoded or encoded. */
    readonly at: number,
  ) {
    super(reason);
    this.name = 'FieldFault';
  }
}

/** A field that could not be decoded or encoded. */
export class FieldError extends Error {
  constructor(
    /** Path of the field in the record, e.g. `lines[2].quantity` (the COBOL name is given in `label`). */
    readonly field: string,
    readonly label: string,
    /** Byte offset within the record. */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`field ${field}${label && label !== field ? ` (${label})` : ''} at byte ${offset}: ${reason}`);
    this.name = 'FieldError';
  }
}

/** A bad record of a file: its number (1-based), byte offset in the file, record type, field and reason. */
export interface RecordProblem {
  recordNo: number;
  offset: number;
  recordType?: string;
  field?: string;
  reason: string;
}

export function describeProblem(p: RecordProblem): string {
  return `record ${p.recordNo} (byte ${p.offset}${p.recordType ? `, ${p.recordType}` : ''})${p.field ? `, field ${p.field}` : ''}: ${p.reason}`;
}

/** A file that cannot be read to its end (it vanished, the connection dropped, it has no trailer). */
export class RecordFileError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly recordNo: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RecordFileError';
  }
}
