/**
 * A request body spooled to a temp file as it streams in, so that a large upload is never held in
 * memory: written once (`writer`), then read again from the start as often as it is passed on
 * (`open()`, one stream per call: a retry, a second backend). The file is removed exactly once, on
 * every path: at once when reading the body fails, else when the request's hold and every reader's
 * are released (the response is over and the streams are closed). It is created only for this
 * process's user (mode 0600) and never reused (`wx`, a random name).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, unlink, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BodySource } from '../kinds/kind.ts';

/** The prefix of every spool file's name (`ficus-upload-<uuid>.part`). */
export const SPOOL_PREFIX = 'ficus-upload-';

export class SpooledBody implements BodySource {
  readonly path: string;
  /** Where the body is written as it arrives. */
  readonly writer: WriteStream;
  /** Bytes written, known once the body is complete. */
  size = 0;
  /** The request's own hold, and one per open reader. */
  private holds = 1;
  /** Set by the first remove(): settles once the file is gone. */
  private gone: Promise<void> | undefined;

  constructor(dir: string) {
    this.path = join(dir, `${SPOOL_PREFIX}${randomUUID()}.part`);
    this.writer = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
  }

  /** The body's bytes as sent, from the start; each call gives a stream of its own. */
  open(): Readable {
    if (this.gone) throw new Error('the spooled request body was already removed (the request is over)');
    this.holds++;
    const stream = createReadStream(this.path);
    stream.once('close', () => this.release());
    return stream;
  }

  /** Lets go of one hold (the request's, when its response is over; a reader's, when it closes): the file goes with the last. */
  release(): void {
    this.holds--;
    if (this.holds <= 0) void this.remove();
  }

  /**
   * Removes the file now (idempotent); resolves once it is gone. A write under way is stopped first,
   * so that the file is not created after it was removed: when the open is still in flight, the file
   * comes into being only then, and is unlinked after it (the promise waits for both).
   */
  remove(): Promise<void> {
    if (this.gone) return this.gone;
    this.gone = new Promise<void>((resolve) => {
      const unlinkIt = () => unlink(this.path, () => resolve());
      if (this.writer.closed) unlinkIt();
      else {
        this.writer.once('close', unlinkIt);
        this.writer.destroy();
      }
    });
    return this.gone;
  }
}
