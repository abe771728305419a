/**
 * The primary tells a worker that is dying: its channel still looks open but the write fails
 * (EPIPE). The failure is reported, and does not end the primary (loaded-suite: a worker killed mid
 * order storm ended the primary with an unhandled 'error' event).
 */
import { EventEmitter } from 'node:events';
import { expect, it } from 'vitest';
import { tellWorker } from '../../src/cluster/worker-channel.ts';

/** A worker whose end of the channel is closed, failing a write as Node's child_process does: to the callback when given one, else as an 'error' event. */
class DyingWorker extends EventEmitter {
  sent = 0;
  isConnected(): boolean {
    return true;
  }
  send(_message: object, callback?: (error: Error | null) => void): boolean {
    this.sent++;
    const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    if (typeof callback === 'function') process.nextTick(callback, error);
    else process.nextTick(() => this.emit('error', error));
    return false;
  }
}

it('a message to a worker whose channel is closing is reported as not delivered, and nothing is thrown or emitted', async () => {
  const worker = new DyingWorker();
  const failed = await new Promise<Error>((resolve) => tellWorker(worker, { ficus: 'worker-exited', pid: 1 }, resolve));
  expect(worker.sent).toBe(1);
  expect((failed as NodeJS.ErrnoException).code).toBe('EPIPE');
  expect(worker.listenerCount('error')).toBe(0);
});

it('nothing is sent to a worker whose channel is closed', () => {
  const worker = new DyingWorker();
  worker.isConnected = () => false;
  tellWorker(worker, { ficus: 'shutdown' }, () => {
    throw new Error('not sent, so not failed');
  });
  expect(worker.sent).toBe(0);
});
