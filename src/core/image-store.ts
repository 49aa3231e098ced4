// The image store on disk: files arrive in a temporary name, are hashed while they stream, and only a complete,
// synced file is renamed into place. Nothing outside the store's folder is ever written.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync } from 'node:fs';
import { link, rm, open } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../contracts/errors.js';

export const INCOMING_PREFIX = '.incoming-';
/** Large reads: SHA-256 and the disk both work best with 1 MiB chunks (16 KiB costs ~3x in throughput). */
export const CHUNK_SIZE = 1 << 20;

export interface StoredFile {
  filename: string;
  size_bytes: number;
  sha256: string;
}

export interface IngestOptions {
  /** Refuse (and delete) the file once it grows past this many bytes. */
  maxBytes?: number;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** A file name that cannot escape the store, start with a dot, or carry odd characters. */
export function safeImageFilename(product: string, version: string, original: string): string {
  const clean = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '');
  const base = clean(basename(original.replaceAll('\\', '/'))) || 'image.img';
  return `${clean(product).toLowerCase()}_v${clean(version)}_${base}`.slice(0, 200);
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
   * Streams `source` into the store under `filename`, hashing on the way. On any failure — client gone, limit
   * exceeded, disk full — the partial file is removed and the error is rethrown (ENOSPC as a 507).
   */
  async function ingest(source: Readable, filename: string, options: IngestOptions = {}): Promise<StoredFile> {
    const target = pathOf(filename);
    const temp = join(root, `${INCOMING_PREFIX}${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      highWaterMark: CHUNK_SIZE,
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (options.maxBytes !== undefined && size > options.maxBytes) {
          done(new AppError('PAYLOAD_TOO_LARGE', `The image is larger than the ${formatBytes(options.maxBytes)} limit.`));
          return;
        }
        hash.update(chunk);
        options.onProgress?.(size);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx', highWaterMark: CHUNK_SIZE }), { signal: options.signal });
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      // link + unlink instead of rename: the move is just as atomic but never replaces a file already stored
      // under that name (two uploads racing for one name must not overwrite each other).
      await link(temp, target);
      await rm(temp, { force: true });
      await syncDirectory(root);
      return { filename, size_bytes: size, sha256: hash.digest('hex') };
    } catch (error) {
      await rm(temp, { force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new AppError('INSUFFICIENT_STORAGE', 'The image store is out of disk space; free some space or delete old images.');
      }
      if (code === 'EEXIST') throw new AppError('CONFLICT', `An image file named ${filename} is already stored.`);
      throw error;
    }
  }

  return {
    root,
    pathOf,
    ingest,
    /** Copies a file already on this machine into the store, hashing it in the same pass. */
    ingestFile: (path: string, filename: string, options?: IngestOptions) =>
      ingest(createReadStream(path, { highWaterMark: CHUNK_SIZE }), filename, options),
    remove: async (filename: string) => rm(pathOf(filename), { force: true }),
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

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
