import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_RAW_BYTES } from '../contracts/image-delivery.js';
import { ChunkPrecompressor } from './chunk-precompressor.js';
import { buildImageChunks } from './image-chunks.builder.js';
import { unzstd } from './test-support/zstd-frames.js';

const W = CHUNK_RAW_BYTES;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Streams `data` in uneven pieces through a precompressor into a sink that keeps what passed. */
async function stream(data: Buffer, precompressor: ChunkPrecompressor): Promise<Buffer> {
  const pieces = function* () {
    for (let at = 0, step = 1; at < data.length; at += step, step = (step * 7919) % 3_000_000 + 1) yield data.subarray(at, at + step);
  };
  const passed: Buffer[] = [];
  await pipeline(Readable.from(pieces()), precompressor, new Writable({ write: (chunk: Buffer, _e, done) => (passed.push(Buffer.from(chunk)), done()) }));
  return Buffer.concat(passed);
}

describe('ChunkPrecompressor', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'pitcrew-precompress-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('passes the bytes through untouched and compresses each window, the short last one included', async () => {
    // Windows: text, zeros, random, then a short tail.
    const data = Buffer.concat([Buffer.from('kart '.repeat(W / 5 + 1)).subarray(0, W), Buffer.alloc(W), randomBytes(W), randomBytes(12_345)]);
    const precompressor = new ChunkPrecompressor(join(dir, 'ahead'), { maxInFlight: 64 });
    expect((await stream(data, precompressor)).equals(data)).toBe(true);
    const { windows, path } = await precompressor.finish();
    expect([...windows.keys()].sort()).toEqual([0, 1, 2, 3]);
    const file = await readFile(path);
    for (const [index, window] of windows) {
      const raw = data.subarray(index * W, index * W + window.raw_length);
      expect(window.raw_length).toBe(index === 3 ? 12_345 : W);
      expect(window.sha256).toBe(sha256(raw));
      expect(unzstd(file.subarray(window.file_offset, window.file_offset + window.compressed_length)).equals(raw)).toBe(true);
    }
  });

  it('compresses all-zero windows once, whatever their number', async () => {
    const data = Buffer.concat([Buffer.alloc(5 * W), randomBytes(W), Buffer.alloc(W)]);
    const precompressor = new ChunkPrecompressor(join(dir, 'ahead'), { maxInFlight: 2 });
    await stream(data, precompressor);
    const { windows, path } = await precompressor.finish();
    expect(windows.size).toBe(7);
    const zeroFrames = new Set([0, 1, 2, 3, 4, 6].map((index) => windows.get(index)!.file_offset));
    expect(zeroFrames.size).toBe(1);
    expect(windows.get(6)!.sha256).toBe(sha256(Buffer.alloc(W)));
    const file = await readFile(path);
    const zero = windows.get(0)!;
    expect(unzstd(file.subarray(zero.file_offset, zero.file_offset + zero.compressed_length)).equals(Buffer.alloc(W))).toBe(true);
    expect(file.length).toBe(zero.compressed_length + windows.get(5)!.compressed_length);
  });

  it('makes the stream wait for a free compressor rather than leave a window out', async () => {
    const data = randomBytes(12 * W);
    const precompressor = new ChunkPrecompressor(join(dir, 'ahead'), { maxInFlight: 1 });
    expect((await stream(data, precompressor)).equals(data)).toBe(true);
    const { windows } = await precompressor.finish();
    expect(windows.size).toBe(12);
  });

  it('lets the chunk builder copy whole windows and compress only the pieces it lacks', async () => {
    const data = randomBytes(3 * W + 5000);
    await writeFile(join(dir, 'disk.img'), data);
    const precompressor = new ChunkPrecompressor(join(dir, 'ahead'), { maxInFlight: 64 });
    await stream(data, precompressor);
    const precompressed = await precompressor.finish();
    expect(precompressed.windows.size).toBe(4);
    // Change the raw file afterwards: a piece taken from the precompressed windows still carries the old bytes,
    // one compressed by the builder the new ones — which tells them apart.
    const disk = await open(join(dir, 'disk.img'), 'r+');
    await disk.write(Buffer.alloc(3 * W + 5000, 1), 0, 3 * W + 5000, 0);
    await disk.close();
    const map = { kind: 'filesystems' as const, notes: [], ranges: [{ offset: 0, length: W }, { offset: W + 4096, length: 2 * W - 4096 + 5000 }] };
    const chunks = await buildImageChunks(join(dir, 'disk.img'), map, join(dir, 'disk.chunks'), { precompressed });
    expect(chunks.map((c) => [c.disk_offset, c.raw_length])).toEqual([[0, W], [W + 4096, W - 4096], [2 * W, W], [3 * W, 5000]]);
    expect(chunks[0]!.sha256).toBe(sha256(data.subarray(0, W))); // copied
    expect(chunks[1]!.sha256).toBe(sha256(Buffer.alloc(W - 4096, 1))); // compressed now (partial window)
    expect(chunks[2]!.sha256).toBe(sha256(data.subarray(2 * W, 3 * W))); // copied
    expect(chunks[3]!.sha256).toBe(sha256(data.subarray(3 * W))); // copied: the short last window
    const file = await readFile(join(dir, 'disk.chunks'));
    for (const chunk of chunks) {
      expect(sha256(unzstd(file.subarray(chunk.file_offset, chunk.file_offset + chunk.compressed_length)))).toBe(chunk.sha256);
    }
  });
});
