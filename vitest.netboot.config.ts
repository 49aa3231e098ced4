import { defineConfig } from 'vitest/config';

// `npm run test:netboot`: the network-booted installer under QEMU. Slow (an emulated arm64 board), so it runs as
// its own command; .ci/run runs it after `npm test`.
export default defineConfig({
  test: {
    include: ['src/netboot/**/*.qemu.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
