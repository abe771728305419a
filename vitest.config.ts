import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // Bounds, not budgets: generous enough for a loaded 2-core machine (tests wait for events, and
    // finish long before these on a quiet one); a test that needs more says so itself.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration suites start real servers on loopback (and chromium, sshd, gateway processes):
    // two files at a time suits a 2-core machine; more would only queue on the cores.
    maxWorkers: 2,
  },
});
