// Compressed uploads at the store: real archives made by xz, gzip and zstd from a real disk image, recognised by
// their bytes, stored as the raw disk; broken ones refused with a plain 422 leaving nothing behind; a decompressor
// that is cut off (abort, limit, client gone) is killed and reaped.
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../contracts/errors.js';
import { ImageDecompressor, detectImageFormat, rawImageName, sniffImageFormat } from './image-decompressor.js';
import { createImageStore, safeImageFilename } from './image-store.js';
import { buildCompressedImages, childProcessesNamed, COMPRESSED, type CompressedImages } from './test-support/compressed-images.js';

let dir: string;
let images: CompressedImages;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-decompress-'));
  images = await buildCompressedImages(dir);
}, 60_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const freshStore = async () => createImageStore(await mkdtemp(join(dir, 'store-')));

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => null, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('format detection', () => {
  it('knows each format by its first bytes, and anything else is a raw disk', () => {
    expect(detectImageFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00]))).toBe('xz');
    expect(detectImageFormat(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0]))).toBe('gzip');
    expect(detectImageFormat(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00]))).toBe('zstd');
    expect(detectImageFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01]))).toBe('raw');
    expect(detectImageFormat(readFileSync(images.raw.path).subarray(0, 6))).toBe('raw');
    expect(detectImageFormat(Buffer.alloc(0))).toBe('raw');
    expect(detectImageFormat(Buffer.from([0x1f]))).toBe('raw');
  });

  it('names the stored raw disk without the compression suffix', () => {
    expect(rawImageName('raspios.img.xz')).toBe('raspios.img');
    expect(rawImageName('raspios.IMG.GZ')).toBe('raspios.IMG');
    expect(rawImageName('raspios.img.zst')).toBe('raspios.img');
    expect(rawImageName('raspios.xz')).toBe('raspios.img');
    expect(rawImageName('raspios.img')).toBe('raspios.img');
    expect(safeImageFilename('KXP2', '2.1.0', 'C:\\Downloads\\2024-11-19-raspios-bookworm-arm64-lite.img.xz')).toBe('kxp2_v2.1.0_2024-11-19-raspios-bookworm-arm64-lite.img');
  });

  it('gives back every byte of a source it looked into, however the source arrives', async () => {
    const data = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from('and the rest of it')]);
    for (const pieces of [[data], [...data].map((byte) => Buffer.from([byte])), [data.subarray(0, 3), data.subarray(3)]]) {
      const { format, stream } = await sniffImageFormat(Readable.from(pieces, { objectMode: false }));
      expect(format).toBe('zstd');
      const out: Buffer[] = [];
      for await (const chunk of stream) out.push(chunk as Buffer);
      expect(Buffer.concat(out)).toEqual(data);
    }
    const short = await sniffImageFormat(Readable.from([Buffer.from('abc')], { objectMode: false }));
    expect(short.format).toBe('raw');
    expect(Buffer.concat(await short.stream.toArray() as Buffer[]).toString()).toBe('abc');
  });
});

describe('compressed images in the store', () => {
  it.each(COMPRESSED)('stores a .img.%s as the raw disk, with the raw SHA-256 and size', async (format) => {
    const store = await freshStore();
    const progress: Array<[number, number]> = [];
    const stored = await store.ingestFile(images.archive[format], 'disk.img', { onProgress: (raw, source) => progress.push([raw, source]) });
    const { precompressed, ...file } = stored;
    expect(file).toEqual({ filename: 'disk.img', size_bytes: images.raw.size, sha256: images.raw.sha256, source_format: format });
    expect(readFileSync(store.pathOf('disk.img')).equals(readFileSync(images.raw.path))).toBe(true);
    // The chunks compressed on the way in wait in their side file for the chunk builder (whose caller removes it).
    expect(readdirSync(store.root).sort()).toEqual([basename(precompressed.path), 'disk.img'].sort());
    const [raw, source] = progress[progress.length - 1]!;
    expect(raw).toBe(images.raw.size);
    expect(source).toBeLessThan(raw);
  });

  it('goes by the content, not the name', async () => {
    const store = await freshStore();
    const xzNamedImg = join(dir, 'really-xz.img');
    await copyFile(images.archive.xz, xzNamedImg);
    expect(await store.ingestFile(xzNamedImg, 'a.img')).toMatchObject({ sha256: images.raw.sha256, source_format: 'xz' });
    const rawNamedXz = join(dir, 'really-raw.img.xz');
    await copyFile(images.raw.path, rawNamedXz);
    expect(await store.ingestFile(rawNamedXz, 'b.img')).toMatchObject({ sha256: images.raw.sha256, size_bytes: images.raw.size, source_format: 'raw' });
  });

  for (const format of COMPRESSED) {
    it(`refuses a truncated or corrupt .${format} with a 422 that says so, leaving nothing behind`, async () => {
      const store = await freshStore();
      for (const [label, file] of [['truncated', images.truncated[format]], ['corrupt', images.corrupt[format]]] as const) {
        const error = await refusal(store.ingestFile(file, 'disk.img'));
        expect(error.code, label).toBe('INVALID_ARCHIVE');
        expect(error.status, label).toBe(422);
        expect(error.message, label).toMatch(new RegExp(`^The file is not a valid \\.${format === 'gzip' ? 'gz' : format === 'zstd' ? 'zst' : 'xz'} archive: \\S`));
        expect(readdirSync(store.root), label).toEqual([]);
      }
      expect(await childProcessesNamed(format)).toEqual([]);
    });
  }

  it.each(COMPRESSED)('applies the size limit to the raw disk of a .%s, stopping the decompressor', async (format) => {
    const store = await freshStore();
    const limit = 8 << 20; // the archive is far smaller, the disk far larger
    const error = await refusal(store.ingestFile(images.archive[format], 'disk.img', { maxBytes: limit }));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(readdirSync(store.root)).toEqual([]);
    expect(await childProcessesNamed(format)).toEqual([]);
  });

  it.each(['xz', 'zstd'] as const)('kills and reaps %s when the upload is cut off part-way', async (format) => {
    const store = await freshStore();
    const source = new PassThrough();
    const bytes = readFileSync(images.archive[format]);
    source.write(bytes.subarray(0, bytes.length >> 2));
    const abort = new AbortController();
    const ingesting = store.ingest(source, 'disk.img', { signal: abort.signal });
    // The decompressor is running once the first bytes have gone through it.
    await expect.poll(() => childProcessesNamed(format).then((found) => found.length), { timeout: 10_000 }).toBe(1);
    abort.abort(new AppError('VALIDATION', 'The upload was interrupted before the file was complete.'));
    // As before compression: the abort's own error, which the upload route words for the client.
    await expect(ingesting).rejects.toMatchObject({ code: 'ABORT_ERR' });
    expect(await childProcessesNamed(format)).toEqual([]);
    expect(readdirSync(store.root)).toEqual([]);
  });

  it('stops its decompressor when destroyed, and its process is gone by the time it says so', async () => {
    const decompressor = new ImageDecompressor('xz');
    const pid = decompressor.pid!;
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const feeding = pipeline(createReadStream(images.archive.xz), decompressor, new Writable({ write: (_chunk, _encoding, done) => setImmediate(done) }));
    setImmediate(() => decompressor.destroy(new Error('stop')));
    await expect(feeding).rejects.toThrow('stop');
    await decompressor.released;
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
