import { defineConfig } from 'vitest/config';

// The sweep after the suite (`npm test`): greps every output the run captured for the test configs'
// secrets (test/sweep/secrets.sweep.ts, test/helpers/output-capture.ts).
export default defineConfig({
  test: { include: ['test/sweep/*.sweep.ts'], reporters: ['default'] },
});
