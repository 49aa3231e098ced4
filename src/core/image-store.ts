// The image store on disk: files arrive in a temporary name, are hashed while they stream, and only a complete,
// synced file is renamed into place. Nothing outside the store's folder is ever written.
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync } from 'node:fs';
import { link, rename, rm, open, statfs } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../contracts/errors.js';
import type { ImageSourceFormat } from '../contracts/image-delivery.js';
import { HashingFileWriter, type HashingWriterOptions } from './hashing-file-writer.js';
import { ImageDecompressor, rawImageName, sniffImageFormat } from './image-decompressor.js';
import { ChunkPrecompressor, type Precompressed } from './chunk-precompressor.js';
import { FirstSectorGate } from '../disk-layout/disk-image.check.js';

export const INCOMING_PREFIX = '.incoming-';
/** An image's v2 delivery files sit beside its raw file: `<filename>.chunks` (zstd frames) and `<filename>.bmap`. */
const DELIVERY_SUFFIXES = { chunks: '.chunks', bmap: '.bmap' } as const;
/** Large reads: SHA-256 and the disk both work best with 1 MiB chunks (16 KiB costs ~3x in throughput). */
export const CHUNK_SIZE = 1 << 20;

export interface StoredFile {
  filename: string;
  size_bytes: number;
  sha256: string;
  /** What arrived: the raw disk, or an archive of it decompressed on the way in (size and hash are the raw disk's). */
  source_format: ImageSourceFormat;
  /** Chunks compressed while the file streamed in, for the chunk builder; the side file is the caller's to remove. */
  precompressed: Precompressed;
}

export interface IngestOptions extends Omit<HashingWriterOptions, 'onProgress'> {
  signal?: AbortSignal;
  /** Bytes of the raw disk stored so far, and of the source read so far (fewer when it is compressed). */
  onProgress?: (rawBytes: number, sourceBytes: number) => void;
}

/**
 * A file name that cannot escape the store, start with a dot, or carry odd characters; a compressed upload's name
 * loses its .xz, .gz or .zst, as the store keeps the raw disk.
 */
export function safeImageFilename(product: string, version: string, original: string): string {
  const clean = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '');
  const base = rawImageName(clean(basename(original.replaceAll('\\', '/')))) || 'image.img';
  const name = `${clean(product).toLowerCase()}_v${clean(version)}_${base}`.slice(0, 200);
  // Never a name that another image's delivery files could have (`<name>.chunks`, `.bmap`), or a route's `.manifest`.
  return /\.(chunks|bmap|manifest)$/.test(name) ? `${name.slice(0, 196)}.img` : name;
}

export function createImageStore(dir: string) {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });

  /** The absolute path of a stored file; refuses any name that would leave the store. */
  function pathOf(filename: string): string {
    const full = resolve(root, filename);
    if (!full.startsWith(root + sep) || basename(full) !== filename || filename.startsWith('.')) {
      throw new AppError('VALIDATION', `"${filename.slice(0, 100)}" is not a valid image file name.`);
    }
    return full;
  }

  /**
   * Streams `source` into the store under `filename`, hashing on the way; an xz, gzip or zstd archive (known by its
   * first bytes) is decompressed as it streams, so the store holds the raw disk. On any failure — client gone, limit
   * exceeded, broken archive, disk full — the decompressor is stopped, the partial file removed and the error
   * rethrown (ENOSPC as a 507).
   */
  async function ingest(source: Readable, filename: string, options: IngestOptions = {}): Promise<StoredFile> {
    const target = pathOf(filename);
    const temp = join(root, `${INCOMING_PREFIX}${randomBytes(8).toString('hex')}`);
    const { onProgress, signal, ...writerOptions } = options;
    let decompressor: ImageDecompressor | null = null;
    const writer = new HashingFileWriter(temp, {
      ...writerOptions,
      ...(onProgress ? { onProgress: (rawBytes: number) => onProgress(rawBytes, decompressor ? decompressor.bytesIn : rawBytes) } : {}),
    });
    const precompressor = new ChunkPrecompressor(join(root, `${INCOMING_PREFIX}${randomBytes(8).toString('hex')}`));
    let linked = false;
    try {
      const sniffed = await sniffImageFormat(source, signal);
      if (sniffed.format !== 'raw') decompressor = new ImageDecompressor(sniffed.format);
      // The first sector of the disk (decompressed, if it came compressed) must look like a disk's.
      const gate = new FirstSectorGate();
      const streams = decompressor ? [sniffed.stream, decompressor, gate, precompressor, writer] as const : [sniffed.stream, gate, precompressor, writer] as const;
      await pipeline(streams, signal ? { signal } : {});
      const precompressed = await precompressor.finish();
      // link + unlink instead of rename: the move is just as atomic but never replaces a file already stored
      // under that name (two uploads racing for one name must not overwrite each other).
      await link(temp, target);
      linked = true;
      await rm(temp, { force: true });
      await syncDirectory(root);
      return { filename, size_bytes: writer.size, sha256: writer.sha256(), source_format: sniffed.format, precompressed };
    } catch (error) {
      if (linked) await rm(target, { force: true });
      source.destroy();
      writer.destroy();
      decompressor?.destroy();
      precompressor.destroy();
      await Promise.all([writer.released, decompressor?.released, precompressor.finish().catch(() => {})]);
      await Promise.all([rm(temp, { force: true }), rm(precompressor.path, { force: true })]);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new AppError('INSUFFICIENT_STORAGE', 'The image store is out of disk space; free some space or delete old images.');
      }
      if (code === 'EEXIST') throw new AppError('CONFLICT', `An image file named ${filename} is already stored.`);
      throw error;
    }
  }

  /** Paths of the v2 delivery files of a stored image. */
  const deliveryPathsOf = (filename: string) => {
    const raw = pathOf(filename);
    return { chunks: raw + DELIVERY_SUFFIXES.chunks, bmap: raw + DELIVERY_SUFFIXES.bmap };
  };

  return {
    root,
    pathOf,
    deliveryPathsOf,
    ingest,
    /** A fresh temporary path in the store, removed at start-up if a crash leaves it behind. */
    tempPath: () => join(root, `${INCOMING_PREFIX}${randomBytes(8).toString('hex')}`),
    /** Moves finished temporary files into place (replacing leftovers of an earlier attempt) and makes it durable. */
    publish: async (moves: Array<[temp: string, target: string]>) => {
      for (const [temp, target] of moves) await rename(temp, target);
      await syncDirectory(root);
    },
    /** Copies a file already on this machine into the store, hashing it in the same pass. */
    ingestFile: (path: string, filename: string, options?: IngestOptions) =>
      ingest(createReadStream(path, { highWaterMark: CHUNK_SIZE }), filename, options),
    /** Removes an image's raw file and its delivery files. */
    remove: async (filename: string) => {
      const delivery = deliveryPathsOf(filename);
      await Promise.all([pathOf(filename), delivery.chunks, delivery.bmap].map((path) => rm(path, { force: true })));
    },
    /** Bytes an unprivileged writer can still store on the store's file system. */
    freeBytes: async (): Promise<number> => {
      const stats = await statfs(root);
      return stats.bavail * stats.bsize;
    },
    /** Leftovers of uploads cut off by a crash; removed at start-up. */
    removeIncomplete: async () => {
      const leftovers = readdirSync(root).filter((name) => name.startsWith(INCOMING_PREFIX));
      await Promise.all(leftovers.map((name) => rm(join(root, name), { force: true })));
      return leftovers.length;
    },
  };
}
export type ImageStore = ReturnType<typeof createImageStore>;

/** Makes the new directory entry durable too, so a power cut after registration cannot lose the file's name. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
