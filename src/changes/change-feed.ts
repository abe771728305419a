/** What every change feed offers the changes feature, its admin API and `ficus backfill`, whatever the legacy system's kind. */
export interface FeedStats {
  /** Rows (db) or records (sftp) read since start. */
  rows: number;
  events: number;
  quarantined: number;
  /** Polls that stopped reading because the feed's undelivered events reached its `maxBacklog` (db feeds). */
  heldBack: number;
}

export interface ChangeFeed {
  readonly name: string;
  readonly stats: FeedStats;
  start(): void;
  stop(): Promise<void>;
  /** Looks for changes now; returns the events queued. */
  poll(): Promise<number>;
  /** Reads everything again: changes the usual poll misses, and removals. */
  sweep(): Promise<number>;
  /** Sends every current row or record as events (to one subscription, or all); resumable. */
  backfill(opts: { subscription?: string; perSecond?: number; restart?: boolean }): Promise<number>;
}
