import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectWriter } from './direct-io.js';
import { openDiskTarget } from './disk.target.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

const MiB = 1 << 20;

const TMPFS_MAGIC = 0x01021994;
const onTmpfs = async (path: string) => (await statfs(path)).type === TMPFS_MAGIC;

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
    // A first write of one page can pass from a buffer address a larger one is refused from.
    const page = randomBytes(4096);
    await target.write(page, 0);
    const chunks = Array.from({ length: 6 }, (_, i) => ({ position: (1 + i * 6) * MiB, data: randomBytes(5 * MiB + 4096 * (i + 1)) }));
    await Promise.all(chunks.map(({ data, position }) => target.write(data, position)));
    await target.sync();
    // The card's bytes went from the installer's buffers to the disk: nothing of them waits in the page cache (on
    // tmpfs the page cache is where files live).
    if (!(await onTmpfs(dir))) expect(cachedPages(path)).toBe(0);

    // Off a page: through the page cache, like any file write.
    const odd = randomBytes(1000);
    await target.write(odd, 3);
    await target.sync();
    await target.close();
    expect(cachedPages(path)).toBeGreaterThan(0);

    const card = await readFile(path);
    expect(card.subarray(0, 3).equals(page.subarray(0, 3))).toBe(true);
    for (const { data, position } of chunks) expect(card.subarray(position, position + data.length).equals(data)).toBe(true);
    expect(card.subarray(3, 1003).equals(odd)).toBe(true);
    expect(card.length).toBe(40 * MiB);
  });

  it('writes a card file on tmpfs, with direct I/O or without as the kernel has it', async () => {
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

describe('direct writes', () => {
  it('leave every write to the page cache once the target refuses direct I/O at every buffer alignment', async () => {
    let calls = 0;
    const refusing = {
      write: async () => {
        calls++;
        throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
      },
      close: async () => {},
    } as unknown as FileHandle;
    const writer = new DirectWriter(refusing, '/dev/mmcblk0');
    expect(await writer.write(Buffer.alloc(8192), 4096)).toBe(false);
    expect(calls).toBeGreaterThan(1);
    const probes = calls;
    // Refused for good: no more probing, and odd writes never try.
    expect(await writer.write(Buffer.alloc(8192), 0)).toBe(false);
    expect(await writer.write(Buffer.alloc(100), 0)).toBe(false);
    expect(calls).toBe(probes);
  });

  it('pass on any other error: a card that fails is a failure, not a reason to write it another way', async () => {
    const failing = {
      write: async () => {
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      },
      close: async () => {},
    } as unknown as FileHandle;
    await expect(new DirectWriter(failing, '/dev/mmcblk0').write(Buffer.alloc(4096), 0)).rejects.toThrow(/EIO/);
  });
});
