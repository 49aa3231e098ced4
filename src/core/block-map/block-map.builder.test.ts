import { open, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAP_BLOCK_BYTES, type BlockMap } from '../../contracts/image-delivery.js';
import { buildBlockMap, MERGE_GAP_BYTES, ZERO_SCAN_BLOCK_BYTES } from './index.js';
import {
  buildTestImage,
  checkPartition,
  copyMappedOntoRandom,
  coveredBytes,
  fileExtents,
  makeTempDir,
  MiB,
  run,
  subtractRanges,
  writeRandom,
  type PartitionSpec,
} from './test-support/fs-image.fixture.js';

/** The contract's shape: sorted, disjoint, non-adjacent, 4 KiB aligned but for an end at imageSize; gaps ≥ 256 KiB. */
function expectWellFormed(map: BlockMap, size: number): void {
  let previousEnd = -1;
  for (const range of map.ranges) {
    const end = range.offset + range.length;
    expect(range.length).toBeGreaterThan(0);
    expect(range.offset % MAP_BLOCK_BYTES).toBe(0);
    expect(end % MAP_BLOCK_BYTES === 0 || end === size).toBe(true);
    expect(end).toBeLessThanOrEqual(size);
    if (previousEnd >= 0) expect(range.offset - previousEnd).toBeGreaterThanOrEqual(MERGE_GAP_BYTES);
    previousEnd = end;
  }
}

const mapped = (map: BlockMap) => map.ranges.reduce((sum, r) => sum + r.length, 0);

describe('buildBlockMap', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const layouts: { name: string; scheme: 'mbr' | 'gpt'; partitions: PartitionSpec[]; tailBytes?: number; notes: RegExp[] }[] = [
    {
      name: 'MBR: FAT12 boot, ext2 root',
      scheme: 'mbr',
      partitions: [{ fs: 'fat12', sizeMiB: 8 }, { fs: 'ext2', sizeMiB: 24 }],
      notes: [/^p1 FAT12 \(BOOT\): .+ used of 8\.0 MiB$/, /^p2 ext2 \(rootfs\): .+ used of 24\.0 MiB$/, /^after the last partition: 64\.0 KiB, 0 B of it not zero$/],
    },
    {
      name: 'MBR: FAT16 boot, a 1 MiB gap, ext4 root (flex_bg, BLOCK_UNINIT groups), an unknown partition, 8 MiB of mostly zeros at the end',
      scheme: 'mbr',
      partitions: [
        { fs: 'fat16', sizeMiB: 24 },
        { fs: 'ext4', sizeMiB: 64, gapMiB: 1 },
        { fs: 'raw', sizeMiB: 2, type: 'da' },
      ],
      tailBytes: 8 * MiB,
      notes: [/^p1 FAT16 \(BOOT\): .+ used of 24\.0 MiB$/, /^p2 ext4 \(rootfs\): .+ used of 64\.0 MiB$/, /^p3 type 0xda: unknown, sent whole \(2\.0 MiB\)$/, /^after the last partition: 8\.0 MiB, 64\.0 KiB of it not zero$/],
    },
    {
      name: 'GPT: FAT32 boot, ext3 root',
      scheme: 'gpt',
      partitions: [{ fs: 'fat32', sizeMiB: 40 }, { fs: 'ext3', sizeMiB: 32 }],
      notes: [/^p1 FAT32 \(BOOT\): .+ used of 40\.0 MiB$/, /^p2 ext3 \(rootfs\): .+ used of 32\.0 MiB$/, /^after the last partition: /],
    },
    {
      name: 'MBR: FAT32 boot, ext4 root without flex_bg, an image size not a multiple of 4096',
      scheme: 'mbr',
      partitions: [{ fs: 'fat32', sizeMiB: 40 }, { fs: 'ext4-no-flex', sizeMiB: 40 }],
      tailBytes: 12345,
      notes: [/^p1 FAT32 \(BOOT\): /, /^p2 ext4 \(rootfs\): /, /^after the last partition: 12\.1 KiB, 12\.1 KiB of it not zero$/],
    },
  ];

  for (const layout of layouts) {
    it(`maps only what the disk needs: ${layout.name}`, async () => {
      const image = await buildTestImage(dir, 'layout.img', layout);
      const tailStart = image.partitions.at(-1)!.startByte + image.partitions.at(-1)!.sizeBytes;
      // Something non-zero past the partitions: one byte run inside one 64 KiB block, or the image's very last bytes.
      const marker = layout.tailBytes === 12345 ? image.size - 100 : tailStart + 3 * MiB + 100;
      if (layout.tailBytes) await writeRandom(image.path, marker, 100);
      for (const p of image.partitions) if (p.fs.startsWith('ext')) await run('e2fsck', ['-fn', `${image.path}?offset=${p.startByte}`]);

      const map = await buildBlockMap(image.path, image.size);
      expect(map.kind).toBe('filesystems');
      expectWellFormed(map, image.size);
      expect(map.notes).toHaveLength(layout.notes.length);
      layout.notes.forEach((note, i) => expect(map.notes[i]).toMatch(note));

      // Sparse: these filesystems are mostly empty.
      const whole = image.partitions.filter((p) => p.fs === 'raw').reduce((sum, p) => sum + p.sizeBytes + (p.gapMiB ?? 0) * MiB, 0);
      expect(mapped(map) - whole).toBeLessThan(image.size * 0.3);
      // Gaps, unknown partitions and the partition table are there whole.
      expect(coveredBytes(map.ranges, { offset: 0, length: image.partitions[0]!.startByte })).toBe(image.partitions[0]!.startByte);
      for (const p of image.partitions) {
        if (p.gapMiB) expect(coveredBytes(map.ranges, { offset: p.startByte - p.gapMiB * MiB, length: p.gapMiB * MiB })).toBe(p.gapMiB * MiB);
        if (p.fs === 'raw') expect(coveredBytes(map.ranges, { offset: p.startByte, length: p.sizeBytes })).toBe(p.sizeBytes);
      }
      if (layout.tailBytes === 8 * MiB) {
        const block = Math.floor(marker / ZERO_SCAN_BLOCK_BYTES) * ZERO_SCAN_BLOCK_BYTES;
        expect(map.ranges.at(-1)).toEqual({ offset: block, length: ZERO_SCAN_BLOCK_BYTES });
      }
      if (layout.tailBytes === 12345) expect(map.ranges.at(-1)!.offset + map.ranges.at(-1)!.length).toBe(image.size);
      if (image.scheme === 'gpt') {
        // The backup GPT: its entries and header, the image's last 33 sectors.
        expect(coveredBytes(map.ranges, { offset: image.size - 33 * 512, length: 33 * 512 })).toBe(33 * 512);
      }
      // A deleted file's freed blocks are not needed (a few may ride along in a merged gap).
      for (const p of image.partitions.filter((p) => p.deleted.length > 0)) {
        const freed = p.deleted.reduce((sum, r) => sum + r.length, 0);
        expect(freed).toBeGreaterThanOrEqual(2 * MiB);
        expect(p.deleted.reduce((sum, r) => sum + coveredBytes(map.ranges, r), 0)).toBeLessThan(freed * 0.25);
      }

      // The proof the map is complete: only the mapped ranges, over random bytes, make a disk whose filesystems
      // check clean and whose every file reads back identical.
      const target = join(dir, 'target.img');
      await copyMappedOntoRandom(image.path, map.ranges, target, image.size);
      for (const p of image.partitions) await checkPartition(target, p, dir);
      if (image.scheme === 'gpt') await run('sfdisk', ['--verify', target]);
      expect((await run('sfdisk', ['--dump', target])).split('\n').filter((l) => l.includes('start='))).toHaveLength(image.partitions.length);

      // And the check has teeth: without the data of one (fragmented) file, that file reads back different.
      for (const p of image.partitions.filter((p) => p.fs !== 'raw')) {
        const [name, extents] = await fileExtents(image.path, p);
        await copyMappedOntoRandom(image.path, subtractRanges(map.ranges, extents), target, image.size);
        await expect(checkPartition(target, p, dir)).rejects.toThrow(`p${p.number}: ${name} differs`);
      }
    });
  }

  it('sends a dirty ext4 whole, with a note: not cleanly unmounted, or a journal to replay', async () => {
    const image = await buildTestImage(dir, 'dirty.img', { scheme: 'mbr', partitions: [{ fs: 'fat16', sizeMiB: 16 }, { fs: 'ext4', sizeMiB: 32 }] });
    const root = image.partitions[1]!;
    const device = `${image.path}?offset=${root.startByte}`;
    const clean = await buildBlockMap(image.path, image.size);
    expect(coveredBytes(clean.ranges, { offset: root.startByte, length: root.sizeBytes })).toBeLessThan(root.sizeBytes / 2);

    await run('debugfs', ['-w', '-R', 'ssv state 0', device]);
    const unclean = await buildBlockMap(image.path, image.size);
    expect(unclean.kind).toBe('filesystems');
    expect(unclean.notes[1]).toBe('p2 ext4 (rootfs): not cleanly unmounted (state "not clean") — sent whole (32.0 MiB)');
    expect(coveredBytes(unclean.ranges, { offset: root.startByte, length: root.sizeBytes })).toBe(root.sizeBytes);
    expect(unclean.notes[0]).toMatch(/^p1 FAT16 \(BOOT\): .+ used of 16\.0 MiB$/);

    await run('debugfs', ['-w', '-R', 'ssv state 1', device]);
    await run('debugfs', ['-w', '-R', 'feature needs_recovery', device]);
    const recovering = await buildBlockMap(image.path, image.size);
    expect(recovering.notes[1]).toBe('p2 ext4 (rootfs): not cleanly unmounted (journal needs recovery) — sent whole (32.0 MiB)');
    expect(coveredBytes(recovering.ranges, { offset: root.startByte, length: root.sizeBytes })).toBe(root.sizeBytes);
  });

  it('maps a garbage image whole: no partition table', async () => {
    const path = join(dir, 'garbage.img');
    await writeFile(path, '');
    const size = 3 * MiB + 777;
    await writeRandom(path, 0, size);
    const file = await open(path, 'r+');
    await file.write(Buffer.from([0, 0]), 0, 2, 510); // no 55 AA, whatever the dice said
    await file.close();
    expect(await buildBlockMap(path, size)).toEqual({
      kind: 'whole',
      ranges: [{ offset: 0, length: size }],
      notes: ['the image has no partition table (no MBR signature in its first sector): the whole image is sent'],
    });
  });

  it('maps a bare filesystem (a boot sector where the MBR belongs) whole', async () => {
    const path = join(dir, 'superfloppy.img');
    await writeFile(path, '');
    await truncate(path, 32 * MiB);
    await run('mkfs.vfat', ['-F', '16', path]);
    const map = await buildBlockMap(path, 32 * MiB);
    expect(map.kind).toBe('whole');
    expect(map.ranges).toEqual([{ offset: 0, length: 32 * MiB }]);
    expect(map.notes).toEqual(['the image has no partition table (it starts with a filesystem of its own): the whole image is sent']);
  });

  it('sends extended partitions, unrecognised filesystems and partitions cut off by the image end whole', async () => {
    const path = join(dir, 'odd.img');
    await writeFile(path, '');
    await truncate(path, 40 * MiB);
    const table = 'label: dos\nunit: sectors\n\nstart=2048, size=8192, type=83\nstart=12288, size=16384, type=5\nstart=14336, size=8192, type=83\nstart=30720, size=40960, type=c\n';
    await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path], { input: table });
    await truncate(path, 30 * MiB); // p3 now reaches 15 MiB past the end
    const map = await buildBlockMap(path, 30 * MiB);
    expect(map.kind).toBe('filesystems');
    expect(map.notes).toEqual([
      'p1 type 0x83: no FAT or ext2/3/4 filesystem recognised, sent whole (4.0 MiB)',
      'p2 extended (type 0x5): logical partitions not read, sent whole (8.0 MiB)',
      'p3 type 0xc: no FAT or ext2/3/4 filesystem recognised, sent whole (15.0 MiB) (clamped: 5.0 MiB of it lies past the end of the image)',
    ]);
    expect(map.ranges).toEqual([{ offset: 0, length: 30 * MiB }]);
  });

  it('maps a 2.6 GiB Raspberry Pi OS-sized image from its metadata alone, quickly', async () => {
    const image = await buildTestImage(dir, 'big.img', {
      scheme: 'mbr',
      partitions: [{ fs: 'fat32', sizeMiB: 512 }, { fs: 'ext4', sizeMiB: 2150 }],
      populate: false,
    });
    const started = performance.now();
    const map = await buildBlockMap(image.path, image.size);
    const elapsed = performance.now() - started;
    expect(map.kind).toBe('filesystems');
    expect(map.notes[0]).toMatch(/^p1 FAT32 \(BOOT\): .+ used of 512 MiB$/);
    expect(map.notes[1]).toMatch(/^p2 ext4 \(rootfs\): .+ used of 2\.1 GiB$/);
    expect(mapped(map)).toBeLessThan(image.size / 10);
    expect(elapsed).toBeLessThan(2000);
    await rm(image.path);
  });
});
