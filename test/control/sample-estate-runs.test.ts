/**
 * Two runs of the sample estate in one checkout (`ficus start --sample` beside `ficus replay
 * --sample-estate` or `ficus record capture --sample-estate`): each has its own folder, so the second
 * neither re-seeds the first's CRM database nor writes into or deletes the first's mainframe files.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSampleEstate, type RunningEstate } from '../../sample/estate.ts';

const roots: string[] = [];
const running: RunningEstate[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe('runs of the sample estate in one checkout', () => {
  it('each run has its own files, untouched by a second run, and removed when it stops', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ficus-estate-runs-'));
    roots.push(root);
    const first = await startSampleEstate({ root });
    running.push(first);
    const firstDb = first.env.CRM_DB_FILE;
    const firstMainframe = dirname(first.env.MAINFRAME_SFTP_KNOWN_HOSTS);
    const before = statSync(firstDb);
    const firstFiles = readdirSync(join(firstMainframe, 'files'), { recursive: true }).sort();

    const second = await startSampleEstate({ root });
    running.push(second);
    expect(second.dir).not.toBe(first.dir);
    expect(second.env.CRM_DB_FILE).not.toBe(firstDb);
    expect(dirname(second.env.MAINFRAME_SFTP_KNOWN_HOSTS)).not.toBe(firstMainframe);
    // The first run's database was not seeded again, nor its mainframe folder written to.
    expect(statSync(firstDb).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(firstDb).ino).toBe(before.ino);
    expect(readdirSync(join(firstMainframe, 'files'), { recursive: true }).sort()).toEqual(firstFiles);

    // The second stops: its folder goes, the first's stays whole.
    await second.stop();
    running.splice(running.indexOf(second), 1);
    expect(existsSync(second.dir)).toBe(false);
    expect(existsSync(firstDb)).toBe(true);
    expect(readdirSync(join(firstMainframe, 'files'), { recursive: true }).sort()).toEqual(firstFiles);

    await first.stop();
    running.splice(running.indexOf(first), 1);
    expect(existsSync(first.dir)).toBe(false);
  }, 60_000);
});
