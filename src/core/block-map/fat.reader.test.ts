import { randomBytes } from 'node:crypto';
import { open, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unionExtents, type Extent } from './byte-ranges.normalizer.js';
import { parseFatBootSector, readFat, type FatType } from './fat.reader.js';
import type { ReadAt } from './filesystem.reading.js';
import { makeTempDir, MiB, MTOOLS_ENV, run } from './test-support/fs-image.fixture.js';

async function fileReader(path: string): Promise<{ read: ReadAt; patch: (position: number, bytes: Buffer) => Promise<void> }> {
  return {
    read: async (position, length) => {
      const file = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await file.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      } finally {
        await file.close();
      }
    },
    patch: async (position, bytes) => {
      const file = await open(path, 'r+');
      await file.write(bytes, 0, bytes.length, position);
      await file.close();
    },
  };
}

const covers = (used: Extent[], start: number, end: number) => unionExtents(used).some((e) => e.start <= start && end <= e.end);
const touches = (used: Extent[], start: number, end: number) => used.some((e) => e.start < end && start < e.end);

describe('readFat', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function makeFat(bits: 12 | 16 | 32, sizeMiB: number) {
    const path = join(dir, `fat${bits}.img`);
    await writeFile(path, '');
    await truncate(path, sizeMiB * MiB);
    await run('mkfs.vfat', ['-F', String(bits), '-n', 'BOOTFS', path]);
    const keep = join(dir, 'KEEP.BIN');
    const gone = join(dir, 'GONE.BIN');
    await writeFile(keep, randomBytes(150 * 1024));
    await writeFile(gone, randomBytes(300 * 1024));
    await run('mcopy', ['-i', path, keep, gone, '::/'], { env: MTOOLS_ENV });
    const chain = async (name: string) => {
      const text = await run('mshowfat', ['-i', path, `::/${name}`], { env: MTOOLS_ENV });
      return [...text.matchAll(/<(\d+)(?:-(\d+))?>/g)].map((m) => [Number(m[1]), Number(m[2] ?? m[1])] as const);
    };
    const chains = { keep: await chain('KEEP.BIN'), gone: await chain('GONE.BIN') };
    await run('mdel', ['-i', path, '::/GONE.BIN'], { env: MTOOLS_ENV });
    return { path, chains, ...(await fileReader(path)) };
  }

  const cases: [12 | 16 | 32, number][] = [
    [12, 4],
    [16, 16],
    [32, 40],
  ];
  for (const [bits, sizeMiB] of cases) {
    it(`FAT${bits}: reserved sectors, FATs, root directory and the clusters in use; not a deleted file's`, async () => {
      const { path, chains, read } = await makeFat(bits, sizeMiB);
      const g = parseFatBootSector(await read(0, 512), sizeMiB * MiB);
      expect(g.type).toBe(`FAT${bits}` as FatType);
      expect(g.label).toBe('BOOTFS');
      const reading = await readFat(read, sizeMiB * MiB);
      if (!reading.ok) throw new Error(reading.reason);
      expect(reading).toMatchObject({ name: `FAT${bits}`, label: 'BOOTFS', sizeBytes: g.totalSectors * g.bytesPerSector, remarks: [] });
      const bps = g.bytesPerSector;
      const cluster = (n: number) => (g.dataStartSector + (n - 2) * g.sectorsPerCluster) * bps;
      const clusterBytes = g.sectorsPerCluster * bps;
      expect(covers(reading.used, 0, g.dataStartSector * bps)).toBe(true);
      for (const [first, last] of chains.keep) expect(covers(reading.used, cluster(first), cluster(last) + clusterBytes)).toBe(true);
      for (const [first, last] of chains.gone) expect(touches(reading.used, cluster(first), cluster(last) + clusterBytes)).toBe(false);
      await run('fsck.vfat', ['-n', path]);
    });
  }

  it('skips bad clusters, and says so', async () => {
    const { chains, read, patch } = await makeFat(16, 16);
    const g = parseFatBootSector(await read(0, 512), 16 * MiB);
    const bad = chains.gone[0]![0];
    for (let fat = 0; fat < g.fatCount; fat++) await patch((g.reservedSectors + fat * g.fatSectors) * g.bytesPerSector + bad * 2, Buffer.from([0xf7, 0xff]));
    const reading = await readFat(read, 16 * MiB);
    expect(reading).toMatchObject({ ok: true, remarks: ['1 bad cluster skipped'] });
  });

  it('refuses a dirty filesystem: the boot sector flag, or the FAT\'s clean-shutdown bit', async () => {
    const fat16 = await makeFat(16, 16);
    await fat16.patch(37, Buffer.from([0x01]));
    expect(await readFat(fat16.read, 16 * MiB)).toEqual({ ok: false, name: 'FAT16', label: 'BOOTFS', reason: 'not cleanly unmounted (dirty flag in the boot sector)' });
    await fat16.patch(37, Buffer.from([0x00]));
    const g = parseFatBootSector(await fat16.read(0, 512), 16 * MiB);
    await fat16.patch(g.reservedSectors * g.bytesPerSector + 2, Buffer.from([0xff, 0x7f]));
    expect(await readFat(fat16.read, 16 * MiB)).toMatchObject({ ok: false, reason: 'not cleanly unmounted (dirty bits in the FAT)' });

    const fat32 = await makeFat(32, 40);
    await fat32.patch(65, Buffer.from([0x01]));
    expect(await readFat(fat32.read, 40 * MiB)).toMatchObject({ ok: false, name: 'FAT32', reason: 'not cleanly unmounted (dirty flag in the boot sector)' });
  });

  it('refuses an odd boot sector', async () => {
    const { read, patch } = await makeFat(16, 16);
    expect(await readFat(read, 8 * MiB)).toMatchObject({ ok: false, reason: expect.stringMatching(/^odd boot sector: the filesystem \(\d+ sectors\) is larger than its partition$/) });
    await patch(11, Buffer.from([0x2c, 0x01]));
    expect(await readFat(read, 16 * MiB)).toEqual({ ok: false, name: 'FAT', label: null, reason: 'odd boot sector: 300 bytes per sector' });
    await patch(11, Buffer.from([0x00, 0x02]));
    await patch(13, Buffer.from([3]));
    expect(await readFat(read, 16 * MiB)).toMatchObject({ ok: false, reason: 'odd boot sector: 3 sectors per cluster' });
    await patch(13, Buffer.from([4]));
    await patch(16, Buffer.from([0]));
    expect(await readFat(read, 16 * MiB)).toMatchObject({ ok: false, reason: 'odd boot sector: 0 FATs' });
    await patch(16, Buffer.from([2]));
    await patch(510, Buffer.from([0, 0]));
    expect(await readFat(read, 16 * MiB)).toMatchObject({ ok: false, reason: 'odd boot sector: no 55 AA signature' });
  });
});
