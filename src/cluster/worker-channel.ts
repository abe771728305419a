/**
 * Telling a cluster worker something over its IPC channel when it may be dying. A worker killed a
 * moment ago can still look connected while its end of the channel is closed: the write then fails
 * with EPIPE, and Node, given no callback, emits that as an 'error' event on the worker, which
 * nobody listens to, and the primary process (every worker's parent) ends. Here the failure goes to
 * `failed` instead; the worker's exit is handled where its 'exit' event is.
 */
export interface WorkerChannel {
  isConnected(): boolean;
  send(message: object, callback: (error: Error | null) => void): boolean;
}

/** Sends `message` if the channel is open; a failed write is given to `failed`, never thrown or emitted. */
export function tellWorker(worker: WorkerChannel, message: object, failed: (error: Error) => void): void {
  if (!worker.isConnected()) return;
  worker.send(message, (error) => {
    if (error) failed(error);
  });
}
