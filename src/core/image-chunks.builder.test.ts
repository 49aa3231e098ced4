import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_RAW_BYTES, type BlockMap } from '../contracts/image-delivery.js';
import { buildImageChunks, chunkRanges, renderBmap } from './image-chunks.builder.js';
import { unzstd } from './test-support/zstd-frames.js';

const MIB = 1 << 20;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const map = (ranges: Array<[number, number]>): BlockMap => ({ kind: 'filesystems', ranges: ranges.map(([offset, length]) => ({ offset, length })), notes: [] });

describe('chunkRanges', () => {
  it('cuts each range at every multiple of CHUNK_RAW_BYTES on the disk, in disk order', () => {
    expect(CHUNK_RAW_BYTES).toBe(4 * MIB);
    expect(chunkRanges(map([[0, 4096], [MIB, 2 * CHUNK_RAW_BYTES + 8192], [20 * MIB, 4096]]))).toEqual([
      { offset: 0, length: 4096 },
      { offset: MIB, length: 3 * MIB },
      { offset: 4 * MIB, length: 4 * MIB },
      { offset: 8 * MIB, length: MIB + 8192 },
      { offset: 20 * MIB, length: 4096 },
    ]);
    expect(chunkRanges(map([]))).toEqual([]);
  });
});

describe('buildImageChunks', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'pitcrew-chunks-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('stores each mapped piece as its own zstd frame, hashed raw, at increasing file offsets', async () => {
    // Half random (incompressible), half text-like, and a size that is not a multiple of the block size.
    const size = 11 * MIB + 1234;
    const raw = Buffer.concat([randomBytes(6 * MIB), Buffer.from('pitcrew '.repeat((size - 6 * MIB) / 8 + 1)).subarray(0, size - 6 * MIB)]);
    await writeFile(join(dir, 'disk.img'), raw);
    const chunks = await buildImageChunks(join(dir, 'disk.img'), map([[0, MIB], [2 * MIB, size - 2 * MIB]]), join(dir, 'disk.chunks'), { concurrency: 3 });
    const file = await readFile(join(dir, 'disk.chunks'));
    expect(chunks.map((c) => [c.disk_offset, c.raw_length])).toEqual([[0, MIB], [2 * MIB, 2 * MIB], [4 * MIB, 4 * MIB], [8 * MIB, 3 * MIB + 1234]]);
    let expectedOffset = 0;
    for (const chunk of chunks) {
      expect(chunk.file_offset).toBe(expectedOffset);
      expectedOffset += chunk.compressed_length;
      const data = unzstd(file.subarray(chunk.file_offset, chunk.file_offset + chunk.compressed_length));
      expect(data.equals(raw.subarray(chunk.disk_offset, chunk.disk_offset + chunk.raw_length))).toBe(true);
      expect(chunk.sha256).toBe(sha256(data));
    }
    expect(file.length).toBe(expectedOffset);
    expect(chunks.at(-1)!.compressed_length).toBeLessThan(MIB / 10); // text compresses
  });

  it('refuses a map that reaches past the end of the image, and never replaces an existing chunk file', async () => {
    await writeFile(join(dir, 'disk.img'), randomBytes(MIB));
    await expect(buildImageChunks(join(dir, 'disk.img'), map([[0, 2 * MIB]]), join(dir, 'a.chunks'))).rejects.toThrow(/ends at 1048576, inside its block map/);
    await writeFile(join(dir, 'b.chunks'), 'keep');
    await expect(buildImageChunks(join(dir, 'disk.img'), map([[0, MIB]]), join(dir, 'b.chunks'))).rejects.toThrow(/EEXIST/);
    expect(await readFile(join(dir, 'b.chunks'), 'utf8')).toBe('keep');
  });

  it('stops between pieces when aborted', async () => {
    await writeFile(join(dir, 'disk.img'), randomBytes(MIB));
    const aborted = AbortSignal.abort();
    await expect(buildImageChunks(join(dir, 'disk.img'), map([[0, MIB]]), join(dir, 'c.chunks'), { signal: aborted })).rejects.toThrow(/abort/i);
  });
});

describe('renderBmap', () => {
  const chunks = [
    { disk_offset: 0, raw_length: 8192, file_offset: 0, compressed_length: 10, sha256: 'a'.repeat(64) },
    { disk_offset: 65536, raw_length: 4096, file_offset: 10, compressed_length: 10, sha256: 'b'.repeat(64) },
    { disk_offset: 1 << 20, raw_length: 5000, file_offset: 20, compressed_length: 10, sha256: 'c'.repeat(64) },
  ];

  it('lists one block range per chunk with its checksum, the last partial block included', () => {
    const text = renderBmap((1 << 20) + 5000, chunks);
    expect(text).toContain('<bmap version="2.0">');
    expect(text).toContain('<ImageSize> 1053576 </ImageSize>');
    expect(text).toContain('<BlockSize> 4096 </BlockSize>');
    expect(text).toContain('<BlocksCount> 258 </BlocksCount>');
    expect(text).toContain('<MappedBlocksCount> 5 </MappedBlocksCount>');
    expect(text).toContain(`<Range chksum="${'a'.repeat(64)}"> 0-1 </Range>`);
    expect(text).toContain(`<Range chksum="${'b'.repeat(64)}"> 16 </Range>`);
    expect(text).toContain(`<Range chksum="${'c'.repeat(64)}"> 256-257 </Range>`);
  });

  it('carries its own checksum, taken with that field all zeros (as bmaptool checks it)', () => {
    const text = renderBmap((1 << 20) + 5000, chunks);
    const own = /<BmapFileChecksum> ([0-9a-f]{64}) <\/BmapFileChecksum>/.exec(text)![1]!;
    expect(sha256(text.replace(own, '0'.repeat(64)))).toBe(own);
  });
});
