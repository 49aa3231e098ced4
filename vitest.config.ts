import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'deploy/**/*.test.ts'],
    // The network-boot run under QEMU has its own config (vitest.netboot.config.ts); npm test runs it last.
    exclude: [...configDefaults.exclude, 'src/**/*.qemu.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real servers and child processes; two cores do not gain from more forks.
    maxWorkers: 2,
    pool: 'forks',
  },
});
