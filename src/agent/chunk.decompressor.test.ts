import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createChunkDecompressor, CorruptFrameError, zlibHasZstd, type DecompressMethod } from './chunk.decompressor.js';

const compress = (raw: Buffer): Buffer => execFileSync('zstd', ['-q', '-c', '-3'], { input: raw, maxBuffer: 16 << 20 });
// Disk-like content: text, zeros and noise.
const raw = Buffer.concat([Buffer.from('pitcrew '.repeat(200_000)), Buffer.alloc(1 << 20), randomBytes(512 << 10)]);
const frame = compress(raw);

// zlib's zstd runs where Node has it (22.15+: the installer's runtime on the Pi); the zstd program everywhere.
const methods: DecompressMethod[] = zlibHasZstd() ? ['zlib', 'zstd-cli'] : ['zstd-cli'];

describe.each(methods)('chunk decompressor (%s)', (method) => {
  it('returns exactly the raw bytes of a frame', async () => {
    const decompressor = (await createChunkDecompressor(method))!;
    expect(decompressor.method).toBe(method);
    const out = await decompressor.decompress(frame, raw.length);
    expect(createHash('sha256').update(out).digest('hex')).toBe(createHash('sha256').update(raw).digest('hex'));
  });

  it('decompresses several frames at once', async () => {
    const decompressor = (await createChunkDecompressor(method))!;
    const outs = await Promise.all([0, 1, 2, 3].map(() => decompressor.decompress(frame, raw.length)));
    expect(outs.every((out) => out.equals(raw))).toBe(true);
  });

  it('rejects a frame that is corrupt, truncated, or longer or shorter than announced', async () => {
    const decompressor = (await createChunkDecompressor(method))!;
    const truncated = frame.subarray(0, frame.length - 100);
    const garbage = randomBytes(frame.length);
    await expect(decompressor.decompress(truncated, raw.length)).rejects.toBeInstanceOf(CorruptFrameError);
    await expect(decompressor.decompress(garbage, raw.length)).rejects.toBeInstanceOf(CorruptFrameError);
    await expect(decompressor.decompress(frame, raw.length - 1)).rejects.toThrow(/does not decompress/);
    await expect(decompressor.decompress(frame, raw.length + 1)).rejects.toThrow(/does not decompress/);
  });
});

describe('choosing a decompressor', () => {
  it('is null when Node has no zstd and the program is missing', async () => {
    if (zlibHasZstd()) return expect((await createChunkDecompressor(undefined, 'no-such-zstd'))!.method).toBe('zlib');
    expect(await createChunkDecompressor(undefined, 'no-such-zstd')).toBeNull();
  });
});
