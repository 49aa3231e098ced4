import { rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirtyReason, ExtGroupParser, extVariant, parseExtHeader, readExt, usedExtents, type BlockRun, type ExtHeader } from './ext.reader.js';
import { makeTempDir, MiB, run } from './test-support/fs-image.fixture.js';

const HEADER = `Filesystem volume name:   rootfs
Last mounted on:          <not available>
Filesystem features:      has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize metadata_csum
Filesystem state:         clean
Block count:              20480
Free blocks:              17835
First block:              1
Block size:               1024
Blocks per group:         8192
Journal features:         (none)
`;

const GROUPS = `Group 0: (Blocks 1-8192) csum 0x654a [ITABLE_ZEROED]
  Primary superblock at 1, Group descriptors at 2-2
  Reserved GDT blocks at 3-161
  Block bitmap at 162 (+161), csum 0x4f323e63
  Inode bitmap at 165 (+164), csum 0x06a81c02
  Inode table at 168-593 (+167)
  6733 free blocks, 1693 free inodes, 2 directories, 1693 unused inodes
  Free blocks: 1460-8192
  Free inodes: 12-1704
Group 1: (Blocks 8193-16384) csum 0x2992 [INODE_UNINIT, BLOCK_UNINIT, ITABLE_ZEROED]
  Backup superblock at 8193, Group descriptors at 8194-8194
  Reserved GDT blocks at 8195-8353
  Block bitmap at 163 (bg #0 + 162), csum 0xf44aaeee
  Inode bitmap at 166 (bg #0 + 165), csum 0x00000000
  Inode table at 594-1019 (bg #0 + 593)
  7007 free blocks, 1704 free inodes, 0 directories, 1704 unused inodes
  Free blocks: 8354-9000, 9002, 9004-16384
  Free inodes: 1705-3408
Group 2: (Blocks 16385-20479) csum 0xd90f [INODE_UNINIT, ITABLE_ZEROED]
  Block bitmap at 164 (bg #0 + 163), csum 0x0d2ec909
  Inode bitmap at 167 (bg #0 + 166), csum 0x00000000
  Inode table at 1020-1445 (bg #0 + 1019)
  4095 free blocks, 1704 free inodes, 0 directories, 1704 unused inodes
  Free blocks: 16385-20479
  Free inodes: 3409-5112
`;

const intersects = (a: BlockRun, b: BlockRun) => a.first <= b.last && b.first <= a.last;

describe('dumpe2fs output', () => {
  it('reads the header: geometry, features, state, label', () => {
    const header = parseExtHeader(HEADER + GROUPS);
    expect(header).toEqual({
      label: 'rootfs',
      features: expect.arrayContaining(['has_journal', 'flex_bg', 'metadata_csum']),
      state: 'clean',
      blockCount: 20480,
      blockSize: 1024,
      firstBlock: 1,
      blocksPerGroup: 8192,
      errorCount: 0,
    });
    expect(dirtyReason(header)).toBeNull();
    expect(() => parseExtHeader('Filesystem state: clean\n')).toThrow(/no block count/);
  });

  it('calls a filesystem dirty when not cleanly unmounted, with a journal to replay or with errors', () => {
    const base = parseExtHeader(HEADER);
    const with_ = (changes: Partial<ExtHeader>) => dirtyReason({ ...base, ...changes });
    expect(with_({ state: 'not clean' })).toBe('not cleanly unmounted (state "not clean")');
    expect(with_({ features: [...base.features, 'needs_recovery'] })).toBe('not cleanly unmounted (journal needs recovery)');
    expect(with_({ state: 'clean with errors', errorCount: 3 })).toBe('3 errors recorded (state "clean with errors")');
    expect(with_({ state: 'not clean with errors' })).toBe('not cleanly unmounted (state "not clean with errors")');
  });

  it('names the flavour from the features', () => {
    expect(extVariant(['ext_attr', 'resize_inode', 'dir_index', 'filetype', 'sparse_super', 'large_file'])).toBe('ext2');
    expect(extVariant(['has_journal', 'ext_attr', 'sparse_super'])).toBe('ext3');
    expect(extVariant(['has_journal', 'extent', 'flex_bg'])).toBe('ext4');
  });

  it('takes the used blocks as everything not listed free, plus the metadata it lists', () => {
    const parser = new ExtGroupParser();
    for (const line of (HEADER + '\n\n' + GROUPS).split('\n')) parser.line(line);
    const groups = parser.finish();
    expect(groups.groups).toBe(3);
    expect(groups.missingFreeLists).toBe(0);
    expect(groups.free).toEqual([
      { first: 1460, last: 8192 },
      { first: 8354, last: 9000 },
      { first: 9002, last: 9002 },
      { first: 9004, last: 16384 },
      { first: 16385, last: 20479 },
    ]);
    expect(groups.metadata).toContainEqual({ first: 1020, last: 1445 });
    expect(groups.metadata).toContainEqual({ first: 8193, last: 8193 });
    const header = parseExtHeader(HEADER);
    const kib = (start: number, end: number) => ({ start: start * 1024, end: end * 1024 });
    expect(usedExtents(header, { ...groups, metadata: [] })).toEqual([kib(0, 1460), kib(8193, 8354), kib(9001, 9002), kib(9003, 9004)]);
  });

  it('notices a group without its free-block list', () => {
    const parser = new ExtGroupParser();
    for (const line of GROUPS.split('\n').filter((l) => !l.includes('Free blocks: 16385'))) parser.line(line);
    expect(parser.finish().missingFreeLists).toBe(1);
  });
});

describe('readExt on filesystems made by mke2fs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { type: 'ext2', args: [] as string[] },
    { type: 'ext3', args: [] as string[] },
    { type: 'ext4', args: [] as string[] },
    { type: 'ext4', args: ['-O', '^flex_bg'] },
    { type: 'ext4', args: ['-b', '1024', '-g', '8192'] },
  ];
  for (const { type, args } of cases) {
    it(`${type} ${args.join(' ')}: the block bitmaps mark every superblock, descriptor, bitmap, inode table and the journal`, async () => {
      const path = join(dir, 'fs.img');
      await writeFile(path, '');
      await truncate(path, 96 * MiB);
      await run('mke2fs', ['-q', '-F', '-t', type, '-b', '4096', '-g', '2048', ...args, '-L', 'root', '-E', 'nodiscard', path]);
      await run('debugfs', ['-w', '-R', 'mkdir /etc', path]);

      const dump = await run('dumpe2fs', [path]);
      const parser = new ExtGroupParser();
      for (const line of dump.split('\n')) parser.line(line);
      const groups = parser.finish();
      expect(groups.groups).toBeGreaterThan(4);
      // The claim the reader rests on: nothing dumpe2fs lists as metadata is also listed as free.
      expect(dump.match(/Inode table at/g)).toHaveLength(groups.groups);
      for (const m of groups.metadata) expect(groups.free.filter((f) => intersects(f, m))).toEqual([]);
      if (type !== 'ext2') {
        const journal = await run('debugfs', ['-R', 'blocks <8>', path]);
        const blocks = journal.trim().split(/\s+/).map(Number);
        expect(blocks.length).toBeGreaterThan(256);
        for (const block of blocks) expect(groups.free.some((f) => f.first <= block && block <= f.last)).toBe(false);
      }
      if (type === 'ext4') expect(dump).toMatch(/BLOCK_UNINIT/);

      const reading = await readExt(path, 0, 96 * MiB);
      expect(reading).toMatchObject({ ok: true, name: type, label: 'root', sizeBytes: 96 * MiB });
    });
  }

  it('reads a filesystem at an offset inside an image, and says why when there is none', async () => {
    const path = join(dir, 'offset.img');
    await writeFile(path, '');
    await truncate(path, 40 * MiB);
    await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', `offset=${4 * MiB},nodiscard`, path, `${32 * 1024}k`]);
    expect(await readExt(path, 4 * MiB, 32 * MiB)).toMatchObject({ ok: true, name: 'ext4', label: null, sizeBytes: 32 * MiB });
    expect(await readExt(path, 4 * MiB, 16 * MiB)).toMatchObject({ ok: false, name: 'ext4', reason: expect.stringMatching(/larger than its partition/) });
    expect(await readExt(path, 0, 4 * MiB)).toMatchObject({ ok: false, name: 'ext', reason: expect.stringMatching(/^dumpe2fs could not read it: Bad magic number in super-block$/) });
  });
});
