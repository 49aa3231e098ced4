import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDiskTarget } from './disk.target.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

const MiB = 1 << 20;

/** Pages of the file in the page cache, as fincore counts them. */
const cachedPages = (path: string): number => Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', path], { encoding: 'utf8' }).trim());

describe('writing the card', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes whole sectors around the page cache, several at once, and anything else through it', async () => {
    const path = join(dir, 'card.img');
    const target = await openDiskTarget(path, 40 * MiB);
    // A first write of one sector can pass from a buffer address a larger one is refused from.
    const sector = randomBytes(512);
    await target.write(sector, 0);
    const chunks = Array.from({ length: 6 }, (_, i) => ({ position: (1 + i * 6) * MiB, data: randomBytes(5 * MiB + 512 * (i + 1)) }));
    await Promise.all(chunks.map(({ data, position }) => target.write(data, position)));
    await target.sync();
    // The card's bytes went from the installer's buffers to the disk: nothing of them waits in the page cache.
    expect(cachedPages(path)).toBe(0);

    // Off a sector: through the page cache, like any file write.
    const odd = randomBytes(1000);
    await target.write(odd, 3);
    await target.sync();
    await target.close();
    expect(cachedPages(path)).toBeGreaterThan(0);

    const card = await readFile(path);
    expect(card.subarray(0, 3).equals(sector.subarray(0, 3))).toBe(true);
    for (const { data, position } of chunks) expect(card.subarray(position, position + data.length).equals(data)).toBe(true);
    expect(card.subarray(3, 1003).equals(odd)).toBe(true);
    expect(card.length).toBe(40 * MiB);
  });

  it('writes through the page cache where the filesystem has no direct I/O (tmpfs)', async () => {
    const shm = await mkdtemp('/dev/shm/pitcrew-card-');
    try {
      const path = join(shm, 'card.img');
      const target = await openDiskTarget(path, 8 * MiB);
      const data = randomBytes(4 * MiB);
      await target.write(data, MiB);
      await target.sync();
      await target.close();
      expect((await readFile(path)).subarray(MiB, 5 * MiB).equals(data)).toBe(true);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });
});
