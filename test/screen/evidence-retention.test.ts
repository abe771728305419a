/** The evidence folder keeps only the newest sets, so that failed flows cannot fill the disk. */
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EvidenceStore, evidenceName } from '../../src/kinds/screen/evidence.ts';
import { memoryLogger } from '../helpers/gateway.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('evidence retention', () => {
  it('deletes the oldest sets (note, screenshot and trace together) past the limit', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-evidence-'));
    const now = Date.now() / 1000;
    for (let i = 1; i <= 5; i++) {
      for (const ext of ['json', 'png', 'trace.zip']) {
        const f = join(dir, `req-${i}.${ext}`);
        writeFileSync(f, 'x');
        utimesSync(f, now - 100 + i, now - 100 + i);
      }
    }
    await new EvidenceStore(dir, 3, memoryLogger().logger).prune();
    expect(readdirSync(dir).sort()).toEqual(['req-3', 'req-4', 'req-5'].flatMap((r) => [`${r}.json`, `${r}.png`, `${r}.trace.zip`]).sort());
  });

  it('names files by request id, with nothing that could leave the folder', () => {
    expect(evidenceName('0b4c-11:22.x')).toBe('0b4c-11_22.x');
    expect(evidenceName('../../etc/passwd')).toBe('.._.._etc_passwd');
  });
});
