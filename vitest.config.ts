import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A run id for PostgreSQL test schemas, dropped after the last test (test/helpers/pg-global.ts).
    globalSetup: ['test/helpers/pg-global.ts'],
    // System tests drive real processes (mender-client, mender-artifact); give them room but never hang CI.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time, also on a 2-core machine (vitest's default there is one): most suites wait on
    // real processes, timers and sockets rather than compute, so the run takes ~6½ min instead of ~12.
    // Every test keeps its own ports, temp dirs, sandboxes, dockerd and PostgreSQL schema, so files never
    // share state. VANCORE_TEST_WORKERS overrides (1 = one file at a time).
    maxWorkers: Number(process.env.VANCORE_TEST_WORKERS ?? 2),
    reporters: ['default'],
  },
});
