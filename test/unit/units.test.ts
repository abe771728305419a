/** One grammar for durations and sizes, wherever config, the admin API or the CLI takes one. */
import { describe, expect, it } from 'vitest';
import { durationMs, formatDuration, formatSize, parseDurationMs, parseSizeBytes, sizeBytes } from '../../src/config/units.ts';
import { gatewayConfigSchema } from '../../src/config/gateway-config.ts';

describe('durations', () => {
  it('reads a number with a unit, and a number alone as seconds', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('1.5h')).toBe(5_400_000);
    expect(parseDurationMs('7d')).toBe(604_800_000);
    expect(parseDurationMs('90')).toBe(90_000);
    expect(parseDurationMs('5 m')).toBe(300_000);
  });
  it('refuses what is not one, with the grammar in the message', () => {
    for (const bad of ['', 'soon', '5 weeks', '-1s', '1y']) expect(parseDurationMs(bad)).toBeUndefined();
    const r = durationMs.safeParse('soon');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toMatch(/30s, 5m, 1h/);
  });
  it('formats back to the largest whole unit', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('sizes', () => {
  it('reads decimal and binary units in any case, and a number alone as bytes', () => {
    expect(parseSizeBytes('512B')).toBe(512);
    expect(parseSizeBytes('100kb')).toBe(100_000);
    expect(parseSizeBytes('10MB')).toBe(10_000_000);
    expect(parseSizeBytes('64KiB')).toBe(65_536);
    expect(parseSizeBytes('2gib')).toBe(2 * 2 ** 30);
    expect(parseSizeBytes('1024')).toBe(1024);
    expect(sizeBytes.parse(4096)).toBe(4096);
  });
  it('refuses what is not one', () => {
    for (const bad of ['', 'big', '10 parsecs', '-1MB']) expect(parseSizeBytes(bad)).toBeUndefined();
  });
  it('formats a whole number of units, else bytes', () => {
    expect(formatSize(2 * 2 ** 30)).toBe('2GiB');
    expect(formatSize(2000)).toBe('2kB');
    expect(formatSize(2561)).toBe('2561 bytes');
  });
  it('is the grammar of ficus.yaml too: server.bodyLimit is bytes once parsed', () => {
    expect(gatewayConfigSchema.parse({ server: { bodyLimit: '100kB' } }).server.bodyLimit).toBe(100_000);
    expect(gatewayConfigSchema.parse({}).server.bodyLimit).toBe(2 ** 20);
    expect(gatewayConfigSchema.parse({ recording: { rollEvery: '30m', maxFileSize: '1MiB' } }).recording).toMatchObject({ rollEvery: 1_800_000, maxFileSize: 2 ** 20 });
  });
});
