import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HashingFileWriter, RING_BYTES } from './hashing-file-writer.js';

const openDescriptors = () => readdirSync('/proc/self/fd').length;

/** Whether the file system under `dir` accepts O_DIRECT (most do; the writer falls back to buffered writes). */
function acceptsDirectWrites(dir: string): boolean {
  try {
    closeSync(openSync(join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(join(dir, 'probe'), { force: true });
  }
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `data` cut into chunks of uneven sizes, from one byte to a few hundred KiB. */
function unevenChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0, step = 1; offset < data.length; step = (step * 7919 + 13) % (300 << 10) || 1) {
    chunks.push(data.subarray(offset, offset + step));
    offset += step;
  }
  return chunks;
}

describe('HashingFileWriter', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'pitcrew-writer-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const direct of [true, false]) {
    describe(direct ? 'writing directly to the disk where it can' : 'writing through the page cache', () => {
      it('stores a stream several times its ring, in uneven chunks, byte for byte with its SHA-256', async () => {
        const content = randomBytes(3 * RING_BYTES + 12_345);
        const path = join(dir, 'image.img');
        const progress: number[] = [];
        const writer = new HashingFileWriter(path, { direct, onProgress: (bytes) => progress.push(bytes) });
        await pipeline(Readable.from(unevenChunks(content)), writer);
        expect(writer.writeMode).toBe(direct && acceptsDirectWrites(dir) ? 'direct' : 'buffered');
        expect(writer.size).toBe(content.length);
        expect(writer.sha256()).toBe(sha256(content));
        expect(readFileSync(path).equals(content)).toBe(true);
        expect(progress.at(-1)).toBe(content.length);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
      });

      it('ends the file exactly where the stream ends, on a block boundary or not', async () => {
        // Direct writes go down in whole 4 KiB blocks: a partial last block is padded, then cut off again.
        for (const size of [0, 1, 4095, 4096, 4097, RING_BYTES - 1, RING_BYTES + 4096]) {
          const content = randomBytes(size);
          const path = join(dir, `size-${size}.img`);
          const writer = new HashingFileWriter(path, { direct });
          await pipeline(Readable.from(content.length > 0 ? [content] : []), writer);
          expect(writer.sha256()).toBe(sha256(content));
          expect(readFileSync(path).equals(content), `${size} bytes`).toBe(true);
        }
      });
    });
  }

  it('never replaces an existing file', async () => {
    const path = join(dir, 'taken.img');
    writeFileSync(path, 'already here');
    const writer = new HashingFileWriter(path);
    await expect(pipeline(Readable.from([Buffer.from('new')]), writer)).rejects.toMatchObject({ code: 'EEXIST' });
    await writer.released;
    expect(readFileSync(path, 'utf8')).toBe('already here');
  });

  it('stops at its size limit', async () => {
    const writer = new HashingFileWriter(join(dir, 'big.img'), { maxBytes: 1000 });
    await expect(pipeline(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), writer)).rejects.toThrow(/larger than the 1000 B limit/);
    await writer.released;
  });

  it('closes its file and stops its disk thread when the stream breaks off, however far it got', async () => {
    const before = openDescriptors();
    for (const cutAfter of [0, 1, RING_BYTES / 2, 2 * RING_BYTES]) {
      const path = join(dir, `cut-${cutAfter}.img`);
      const writer = new HashingFileWriter(path);
      const source = new Readable({ read() {} });
      const done = pipeline(source, writer);
      if (cutAfter > 0) source.push(randomBytes(cutAfter));
      source.destroy(new Error('connection reset'));
      await expect(done).rejects.toThrow(/connection reset/);
      await writer.released;
      expect(() => writer.sha256()).toThrow(/not complete/);
      expect(existsSync(path)).toBe(true); // removing the partial file is the caller's part
    }
    expect(openDescriptors()).toBe(before);
  });
});
