// The image store on disk: files arrive in a temporary name, are hashed while they stream, and only a complete,
// synced file is renamed into place. Nothing outside the store's folder is ever written.
import { createHash, randomBytes } from 'node:crypto';
import {
  close as fsClose, createReadStream, fdatasync as fsFdatasync, fsync as fsFsync, mkdirSync, open as fsOpen, readdirSync, writev as fsWritev,
} from 'node:fs';
import { link, rm, open, statfs } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../contracts/errors.js';
import { formatBytes } from '../contracts/format.js';

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
    const writer = new HashingFileWriter(temp, options);
    try {
      await pipeline(source, writer, options.signal ? { signal: options.signal } : {});
      // link + unlink instead of rename: the move is just as atomic but never replaces a file already stored
      // under that name (two uploads racing for one name must not overwrite each other).
      await link(temp, target);
      await rm(temp, { force: true });
      await syncDirectory(root);
      return { filename, size_bytes: writer.size, sha256: writer.sha256() };
    } catch (error) {
      writer.destroy();
      await writer.released;
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

/** Start the disk writing this often while a file streams in, so the final fsync has little left to do. */
const SYNC_EVERY_BYTES = 64 << 20;
/** Hashed bytes that may wait for the disk before the network side is slowed down. */
const QUEUE_LIMIT_BYTES = 8 * CHUNK_SIZE;

/**
 * Writes a stream into a new file, hashing and counting as it goes. Hashing (main thread) and writing (libuv's
 * thread pool) overlap: chunks are hashed as they arrive and queued, and whatever queued while a write was in
 * flight goes down in the next single writev (network chunks are 64 KiB; the disk prefers MiBs). The stream is
 * slowed down only once QUEUE_LIMIT_BYTES wait. Every SYNC_EVERY_BYTES a background fdatasync starts writeback
 * while the upload continues: otherwise Linux keeps gigabytes dirty in the page cache and the fsync that makes the
 * file durable would wait for all of them at the very end. The stream finishes once the file is complete and
 * fsynced.
 */
class HashingFileWriter extends Writable {
  size = 0;
  /** Resolves once the descriptor is closed (or was never opened). */
  readonly released: Promise<void>;
  private fd: number | null = null;
  private position = 0;
  private hash = createHash('sha256');
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing = false;
  private writeError: Error | null = null;
  /** The stream callback held back while the queue is full. */
  private heldBack: ((error?: Error | null) => void) | null = null;
  /** Called when the queue has drained (for _final). */
  private onDrained: (() => void) | null = null;
  private unsynced = 0;
  private syncing: Promise<void> | null = null;
  private syncError: Error | null = null;
  private markClosed!: () => void;

  constructor(
    private readonly path: string,
    private readonly options: IngestOptions,
  ) {
    super({ highWaterMark: 4 * CHUNK_SIZE });
    this.released = new Promise((resolve) => (this.markClosed = resolve));
  }

  sha256(): string {
    return this.hash.digest('hex');
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fsOpen(this.path, 'wx', 0o644, (error, fd) => {
      if (error) {
        this.markClosed();
        callback(error);
        return;
      }
      this.fd = fd;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(entries: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const failure = this.writeError ?? this.syncError;
    if (failure) {
      callback(failure);
      return;
    }
    let bytes = 0;
    for (const { chunk } of entries) bytes += chunk.length;
    const { maxBytes } = this.options;
    if (maxBytes !== undefined && this.size + bytes > maxBytes) {
      callback(new AppError('PAYLOAD_TOO_LARGE', `The image is larger than the ${formatBytes(maxBytes)} limit.`));
      return;
    }
    for (const { chunk } of entries) {
      this.hash.update(chunk);
      this.queue.push(chunk);
    }
    this.size += bytes;
    this.queuedBytes += bytes;
    this.options.onProgress?.(this.size);
    this.flush();
    if (this.queuedBytes < QUEUE_LIMIT_BYTES) callback();
    else this.heldBack = callback;
  }

  /** Writes everything queued in one writev, then whatever queued meanwhile, until the queue is empty. */
  private flush(): void {
    if (this.writing || this.queue.length === 0 || this.writeError) return;
    const batch = this.queue.splice(0, 1024); // IOV_MAX
    const bytes = batch.reduce((sum, buffer) => sum + buffer.length, 0);
    this.writing = true;
    this.writeAll(batch, (error) => {
      this.writing = false;
      this.queuedBytes -= bytes;
      if (error) this.writeError = error;
      else {
        this.unsynced += bytes;
        if (this.unsynced >= SYNC_EVERY_BYTES && !this.syncing) this.startWriteback();
      }
      if (this.heldBack && (error || this.queuedBytes < QUEUE_LIMIT_BYTES)) {
        const release = this.heldBack;
        this.heldBack = null;
        release(error);
      }
      if (error || this.queue.length === 0 || this.destroyed) {
        const drained = this.onDrained;
        this.onDrained = null;
        drained?.();
        return;
      }
      this.flush();
    });
  }

  /** writev until every byte is down (a regular file may take fewer bytes than asked). */
  private writeAll(buffers: Buffer[], callback: (error: Error | null) => void): void {
    fsWritev(this.fd!, buffers, this.position, (error, written) => {
      if (error) {
        callback(error);
        return;
      }
      this.position += written;
      let rest = buffers;
      let skip = written;
      while (rest.length > 0 && skip >= rest[0]!.length) {
        skip -= rest[0]!.length;
        rest = rest.slice(1);
      }
      if (rest.length > 0 && skip > 0) rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
      if (rest.length === 0) callback(null);
      else this.writeAll(rest, callback);
    });
  }

  private startWriteback(): void {
    this.unsynced = 0;
    this.syncing = new Promise<void>((resolve) =>
      fsFdatasync(this.fd!, (error) => {
        if (error) this.syncError = error;
        this.syncing = null;
        resolve();
      }),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    void (async () => {
      if (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => (this.onDrained = resolve));
      if (this.writeError) throw this.writeError;
      await this.syncing;
      if (this.syncError) throw this.syncError;
      await new Promise<void>((resolve, reject) => fsFsync(this.fd!, (error) => (error ? reject(error) : resolve())));
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fd = this.fd;
    if (fd === null) {
      callback(error);
      return;
    }
    const close = () => {
      this.fd = null;
      fsClose(fd, (closeError) => {
        this.markClosed();
        callback(error ?? closeError);
      });
    };
    // A write in flight still uses the descriptor: close it once that write returns. (A background fdatasync holds
    // its own reference to the file, so closing under it is safe.)
    if (this.writing) this.onDrained = close;
    else close();
  }
}

/** Makes the new directory entry durable too, so a power cut after registration cannot lose the file's name. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
