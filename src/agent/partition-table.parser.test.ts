import { readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFilesystem, parsePartitionTable } from './partition-table.parser.js';
import { buildDiskImage, makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

describe('parsePartitionTable', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the MBR sfdisk wrote, with the disk signature used in PARTUUIDs', async () => {
    const image = await buildDiskImage(dir, { flavour: 'none', fileName: 'mbr.img' });
    const disk = await readFile(image.path);
    const table = parsePartitionTable(disk.subarray(0, 1 << 20));
    expect(table).toEqual({
      scheme: 'mbr',
      diskId: image.diskId,
      partitions: [
        { number: 1, startByte: image.boot.startByte, sizeBytes: image.boot.sizeBytes, type: 'c' },
        { number: 2, startByte: image.root.startByte, sizeBytes: image.root.sizeBytes, type: '83' },
      ],
    });
    expect(detectFilesystem(disk.subarray(image.boot.startByte, image.boot.startByte + 2048))).toBe('fat');
    expect(detectFilesystem(disk.subarray(image.root.startByte, image.root.startByte + 2048))).toBe('ext');
    expect(detectFilesystem(Buffer.alloc(2048))).toBeNull();
  });

  it('reads a GPT behind its protective MBR', async () => {
    const image = await buildDiskImage(dir, { flavour: 'none', scheme: 'gpt', fileName: 'gpt.img' });
    const table = parsePartitionTable((await readFile(image.path)).subarray(0, 1 << 20));
    expect(table.scheme).toBe('gpt');
    expect(table.diskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(table.partitions).toEqual([
      { number: 1, startByte: image.boot.startByte, sizeBytes: image.boot.sizeBytes, type: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7' },
      { number: 2, startByte: image.root.startByte, sizeBytes: image.root.sizeBytes, type: '0fc63daf-8483-4772-8e79-3d69d8477de4' },
    ]);
  });

  it('skips empty and extended entries', () => {
    const head = Buffer.alloc(1 << 20);
    head.writeUInt16LE(0xaa55, 510);
    const entry = (i: number, type: number, start: number, sectors: number) => {
      head[446 + 16 * i + 4] = type;
      head.writeUInt32LE(start, 446 + 16 * i + 8);
      head.writeUInt32LE(sectors, 446 + 16 * i + 12);
    };
    entry(0, 0x0c, 8192, 1000);
    entry(1, 0x05, 9192, 5000);
    expect(parsePartitionTable(head).partitions).toEqual([{ number: 1, startByte: 8192 * 512, sizeBytes: 1000 * 512, type: 'c' }]);
  });

  it('refuses a first MiB without a partition table', () => {
    expect(() => parsePartitionTable(Buffer.alloc(1 << 20))).toThrow(/no partition table/);
    expect(() => parsePartitionTable(Buffer.alloc(100))).toThrow(/no partition table/);
    const protective = Buffer.alloc(4096);
    protective.writeUInt16LE(0xaa55, 510);
    protective[446 + 4] = 0xee;
    expect(() => parsePartitionTable(protective)).toThrow(/no GPT header/);
  });
});
