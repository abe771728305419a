/**
 * Evidence of a failed flow: a screenshot of the page as the flow left it, the Playwright trace of
 * the flow (open it with `npx playwright show-trace <file>`), and a small JSON note, all named by
 * the request id under a configurable folder; only the newest `keep` sets are kept.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../observability/logger.ts';
import type { Slot } from './browser-pool.ts';

export interface EvidenceFiles {
  screenshot?: string;
  trace?: string;
  note: string;
}

export interface EvidenceNote {
  requestId: string;
  adapter: string;
  operation: string;
  at: string;
  url: string;
  error: string;
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

export function evidenceName(requestId: string): string {
  return requestId.replace(/[^A-Za-z0-9._-]/g, '_');
}

export class EvidenceStore {
  private pruning: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly keep: number,
    private readonly logger: Logger,
    /** Longest a screenshot or trace may take (the page may be hung). */
    private readonly captureTimeoutMs = 3_000,
  ) {}

  /** Saves what the page shows and the flow's trace chunk (when `tracing` is on for it). */
  async save(slot: Slot, tracing: boolean, note: Omit<EvidenceNote, 'at' | 'url'>): Promise<EvidenceFiles> {
    await mkdir(this.dir, { recursive: true });
    // A retried call keeps its request id: its second set is <id>-2, and so on.
    let base = join(this.dir, evidenceName(note.requestId));
    for (let n = 2; existsSync(`${base}.json`) && n < 100; n++) base = join(this.dir, `${evidenceName(note.requestId)}-${n}`);
    const files: EvidenceFiles = { note: `${base}.json` };
    // A navigation still pending (a page that hangs) holds the screenshot back: stop it, keep what is shown.
    // (over CDP: Playwright's own calls would wait for the navigation).
    await bounded(
      (async () => {
        const cdp = await slot.context.newCDPSession(slot.page);
        await cdp.send('Page.stopLoading');
        await cdp.detach();
      })(),
      1_000,
    );
    const shot = await bounded(slot.page.screenshot({ path: `${base}.png`, fullPage: true, timeout: this.captureTimeoutMs }), this.captureTimeoutMs + 500);
    if (shot !== undefined) files.screenshot = `${base}.png`;
    if (tracing) {
      const ok = await bounded(
        slot.context.tracing.stopChunk({ path: `${base}.trace.zip` }).then(() => true),
        this.captureTimeoutMs,
      );
      if (ok) files.trace = `${base}.trace.zip`;
    }
    let url = '';
    try {
      url = slot.page.url();
    } catch {
      // page gone
    }
    await writeFile(files.note, JSON.stringify({ ...note, at: new Date().toISOString(), url, files }, null, 2) + '\n');
    this.logger.warn({ requestId: note.requestId, operation: note.operation, evidence: files }, 'a screen flow failed; evidence saved');
    this.pruning = this.pruning.then(() => this.prune()).catch(() => undefined);
    await this.pruning;
    return files;
  }

  /** Deletes the oldest evidence sets past `keep`. */
  async prune(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    const notes = names.filter((n) => n.endsWith('.json'));
    if (notes.length <= this.keep) return;
    const dated = await Promise.all(notes.map(async (n) => ({ n, t: (await stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    dated.sort((a, b) => b.t - a.t);
    for (const { n } of dated.slice(this.keep)) {
      const id = n.slice(0, -'.json'.length);
      await Promise.all([`${id}.json`, `${id}.png`, `${id}.trace.zip`].map((f) => rm(join(this.dir, f), { force: true })));
    }
  }
}
