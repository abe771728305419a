/**
 * A remote file read once and kept: each chunk is written to a local file (at its offset) as it
 * passes on to the decoder, up to a size limit. Past the limit the copy stops and says so, so that
 * a file larger than the limit is neither kept nor decoded whole. Used by the export reader (which
 * serves reads from the copy) and by the sftp change feed (which compares copies).
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export class SpooledCopy {
  /** Bytes written to the copy so far. */
  written = 0;
  /** True when the source held more than the limit (the copy stopped there). */
  over = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly limit: number,
    private readonly signal: AbortSignal,
  ) {}

  /** The source's chunks, each written to the copy before it is passed on. */
  async *chunks(source: Readable): AsyncGenerator<Buffer> {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (this.signal.aborted) throw this.signal.reason;
      if (this.written + chunk.length > this.limit) {
        this.over = true;
        return;
      }
      await this.handle.write(chunk, 0, chunk.length, this.written);
      this.written += chunk.length;
      yield chunk;
    }
  }
}
