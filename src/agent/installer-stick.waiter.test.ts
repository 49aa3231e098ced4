import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { waitForStickRemoval } from './installer-stick.waiter.js';

describe('waiting for the installer stick to be pulled out', () => {
  let root: string;
  beforeEach(async () => {
    root = await makeTempDir();
    await mkdir(join(root, 'sys/block/sdb'), { recursive: true });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('ends as soon as the stick leaves /sys/block', async () => {
    const waiting = waitForStickRemoval({ root, name: 'sdb', timeoutMs: 60_000, pollMs: 10 });
    await rm(join(root, 'sys/block/sdb'), { recursive: true });
    await expect(waiting).resolves.toBe('removed');
  });

  it('gives up after the time allowed when the stick stays in, and ends at once when it is already out', async () => {
    const started = performance.now();
    expect(await waitForStickRemoval({ root, name: 'sdb', timeoutMs: 300, pollMs: 40 })).toBe('still-in');
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    expect(await waitForStickRemoval({ root, name: 'sdc', timeoutMs: 60_000 })).toBe('removed');
    expect(await waitForStickRemoval({ root, name: 'sdb', timeoutMs: 0 })).toBe('still-in');
  });

  it('stops waiting when the installer is stopped', async () => {
    const abort = new AbortController();
    const waiting = waitForStickRemoval({ root, name: 'sdb', timeoutMs: 600_000, signal: abort.signal });
    abort.abort();
    await expect(waiting).resolves.toBe('still-in');
  });
});
