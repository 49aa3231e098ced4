// Reads back what was written, bypassing the page cache: otherwise "verification" would only re-read the
// kernel's copy of the bytes we just handed it, never the card. O_DIRECT first; where a filesystem refuses it
// (tmpfs before Linux 6.6), the cached pages are dropped (`dd iflag=nocache`, i.e. posix_fadvise DONTNEED) before a
// plain read.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isAlignmentRefusal, probeAlignedView } from './direct-io.js';
import { InstallerError } from './installer.errors.js';
import { abortError } from './retry.policy.js';

export type ReadBackMethod = 'o_direct' | 'cache_dropped' | 'buffered';

const CHUNK_BYTES = 4 << 20;

class DiskReader {
  private view: Buffer | null = null;

  private constructor(
    private readonly handle: FileHandle,
    readonly method: ReadBackMethod,
  ) {}

  static async open(path: string): Promise<DiskReader> {
    try {
      return new DiskReader(await open(path, constants.O_RDONLY | constants.O_DIRECT), 'o_direct');
    } catch (error) {
      if (!isAlignmentRefusal(error)) throw readError(path, 0, error);
    }
    const dropped = await dropCachedPages(path);
    return new DiskReader(await open(path, constants.O_RDONLY), dropped ? 'cache_dropped' : 'buffered');
  }

  /** Reads up to `length` bytes at `position` (both multiples of 512 in direct mode); returns a view. */
  async read(position: number, length: number): Promise<Buffer> {
    if (!this.view) this.view = await this.allocate(length, position);
    if (length > this.view.length) throw new Error('read larger than the reader was opened for');
    try {
      const { bytesRead } = await this.handle.read(this.view, 0, length, position);
      return this.view.subarray(0, bytesRead);
    } catch (error) {
      // Holes in a sparse file are read without DMA and accept any buffer, so the first probe can pass on a
      // buffer real data refuses: probe again with this very read.
      if (this.method !== 'o_direct' || !isAlignmentRefusal(error)) throw error;
      this.view = await this.allocate(length, position);
      const { bytesRead } = await this.handle.read(this.view, 0, length, position);
      return this.view.subarray(0, bytesRead);
    }
  }

  private async allocate(length: number, position: number): Promise<Buffer> {
    const size = Math.max(length, CHUNK_BYTES);
    if (this.method !== 'o_direct') return Buffer.allocUnsafe(size);
    // The probe is the real read: small reads can pass where large ones are refused.
    const probed = await probeAlignedView(size, (view) => this.handle.read(view, 0, length, position));
    if (!probed) throw new InstallerError('IO', 'no buffer alignment satisfies O_DIRECT reads on the target');
    return probed.view;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** posix_fadvise(DONTNEED) over the whole file or device, through coreutils dd. */
async function dropCachedPages(path: string): Promise<boolean> {
  try {
    await promisify(execFile)('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
    return true;
  } catch {
    return false;
  }
}

function readError(path: string, position: number, error: unknown): InstallerError {
  return new InstallerError('IO', `reading back ${path} at byte ${position} failed: ${(error as Error).message}`, { cause: error });
}

export interface HashRangeOptions {
  /** Bytes hashed before the range (the held-back first MiB, still in memory). */
  prefix?: Buffer;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
}

/** SHA-256 of `prefix` followed by bytes [start, end) of the disk, read around the page cache. */
export async function hashDiskRange(path: string, start: number, end: number, options: HashRangeOptions = {}): Promise<{ sha256: string; method: ReadBackMethod }> {
  const [sha256, method] = await hashDiskRanges(path, [{ start, end, prefix: options.prefix }], {
    signal: options.signal,
    onProgress: options.onProgress,
  }).then((r) => [r.sha256[0]!, r.method] as const);
  return { sha256, method };
}

export interface DiskRange {
  /** Bytes [start, end) of the disk; start a multiple of 512. */
  start: number;
  end: number;
  /** Bytes hashed before the range (what of it is still held in memory). */
  prefix?: Buffer;
}

/**
 * SHA-256 of each range (its prefix, then its bytes on the disk), in order, through one reader: image delivery
 * v2 checks every chunk's range against the chunk's own hash. Progress counts prefix and disk bytes together.
 */
export async function hashDiskRanges(
  path: string,
  ranges: DiskRange[],
  options: { onProgress?: (bytesDone: number, bytesTotal: number) => void; onRange?: (index: number, sha256: string) => void; signal?: AbortSignal } = {},
): Promise<{ sha256: string[]; method: ReadBackMethod }> {
  const total = ranges.reduce((sum, r) => sum + (r.prefix?.length ?? 0) + (r.end - r.start), 0);
  let done = 0;
  const hashes: string[] = [];
  const reader = await DiskReader.open(path);
  try {
    for (const [index, { start, end, prefix }] of ranges.entries()) {
      const hash = createHash('sha256');
      if (prefix) {
        hash.update(prefix);
        done += prefix.length;
      }
      let position = start;
      while (position < end) {
        if (options.signal?.aborted) throw abortError(options.signal);
        // Direct reads must cover whole sectors; the tail beyond `end` is read but not hashed.
        const want = Math.min(CHUNK_BYTES, roundUp(end - position, 4096));
        let data: Buffer;
        try {
          data = await reader.read(position, want);
        } catch (error) {
          throw readError(path, position, error);
        }
        if (data.length === 0) throw new InstallerError('VERIFY_MISMATCH', `the disk ends at byte ${position}, before the image's ${end} bytes`);
        const useful = data.subarray(0, Math.min(data.length, end - position));
        hash.update(useful);
        position += useful.length;
        done += useful.length;
        if (data.length < want && position < end && data.length % 512 !== 0) {
          throw new InstallerError('IO', `short read of ${data.length} bytes at byte ${position - useful.length}`);
        }
        options.onProgress?.(done, total);
      }
      const sha256 = hash.digest('hex');
      hashes.push(sha256);
      options.onRange?.(index, sha256);
    }
    return { sha256: hashes, method: reader.method };
  } finally {
    await reader.close();
  }
}

/** The bytes [position, position + length) as the disk holds them, read around the page cache. */
export async function readDiskBytes(path: string, position: number, length: number): Promise<{ data: Buffer; method: ReadBackMethod }> {
  const reader = await DiskReader.open(path);
  try {
    const data = await reader.read(position, roundUp(length, 4096));
    return { data: Buffer.from(data.subarray(0, Math.min(length, data.length))), method: reader.method };
  } catch (error) {
    throw readError(path, position, error);
  } finally {
    await reader.close();
  }
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;
