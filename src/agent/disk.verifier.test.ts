import { createHash, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashDiskRange, readDiskBytes } from './disk.verifier.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

const sha = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');

describe('read-back verification', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes a range around the page cache, with the held-back prefix first', async () => {
    const data = randomBytes(9 * (1 << 20) + 777);
    const path = join(dir, 'disk.img');
    await writeFile(path, data);
    const progress: number[] = [];
    const prefix = randomBytes(1 << 20);
    const result = await hashDiskRange(path, 1 << 20, data.length, { prefix, onProgress: (done) => progress.push(done) });
    expect(result).toEqual({ sha256: sha(prefix, data.subarray(1 << 20)), method: 'o_direct' });
    expect(progress.at(-1)).toBe(data.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('sees a single flipped byte', async () => {
    const data = randomBytes(3 << 20);
    const path = join(dir, 'disk.img');
    const flipped = Buffer.from(data);
    flipped[2_000_000]! ^= 0x80;
    await writeFile(path, flipped);
    expect((await hashDiskRange(path, 0, data.length)).sha256).not.toBe(sha(data));
  });

  it('reads data after holes of a sparse file', async () => {
    const path = join(dir, 'sparse.img');
    const data = Buffer.alloc(8 << 20);
    randomBytes(1 << 20).copy(data, 6 << 20);
    await writeFile(path, data);
    expect((await hashDiskRange(path, 0, data.length)).sha256).toBe(sha(data));
  });

  it('says where the disk ends when it is shorter than the image', async () => {
    const path = join(dir, 'short.img');
    await writeFile(path, randomBytes(1 << 20));
    await expect(hashDiskRange(path, 0, 2 << 20)).rejects.toThrow(/ends at byte 1048576/);
  });

  it('returns exactly the requested bytes', async () => {
    const data = randomBytes(3 << 20);
    const path = join(dir, 'disk.img');
    await writeFile(path, data);
    const { data: read } = await readDiskBytes(path, 1 << 20, 1000);
    expect(read.equals(data.subarray(1 << 20, (1 << 20) + 1000))).toBe(true);
  });

  it('names the target that cannot be read', async () => {
    await expect(hashDiskRange(join(dir, 'missing.img'), 0, 10)).rejects.toThrow(/missing\.img/);
  });
});
