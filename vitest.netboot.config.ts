import { defineConfig } from 'vitest/config';

// The network-booted installer under QEMU. Slow (an emulated arm64 board), so `npm test` runs it last, after the
// main suite has passed; `npm run test:netboot` runs it alone.
export default defineConfig({
  test: {
    include: ['src/netboot/**/*.qemu.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
