// Compresses an image's chunks while it is still streaming in, so that they are ready when the block map is
// known and registration needs no second pass over the disk. Every CHUNK_RAW_BYTES-aligned window is compressed
// (all-zero windows share one frame, compressed once); with every core busy the stream waits for a compressor. Waiting beats skipping: the work has to be done anyway, and done later it would
// read the image back from the disk on the cores alone (measured on a 2.6 GiB .img.xz: skipping left 60 % of the
// chunks to a second pass that took a third as long as the upload itself). The price is compressing windows the
// filesystems turn out not to use, usually a few deleted files.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { CHUNK_RAW_BYTES } from '../contracts/image-delivery.js';
import { compressZstd, sharedBuffer } from './zstd.compressor.js';

/** A window of the disk (CHUNK_RAW_BYTES-aligned, the image's last one shorter) compressed ahead of time. */
export interface PrecompressedWindow {
  raw_length: number;
  sha256: string;
  file_offset: number;
  compressed_length: number;
}

export interface Precompressed {
  /** The side file holding the frames, in the order they finished. */
  path: string;
  /** By window index (disk offset ÷ CHUNK_RAW_BYTES). */
  windows: Map<number, PrecompressedWindow>;
}

const ZEROS = Buffer.alloc(CHUNK_RAW_BYTES);

export class ChunkPrecompressor extends Transform {
  readonly windows = new Map<number, PrecompressedWindow>();
  private readonly file: Promise<FileHandle>;
  private readonly maxInFlight: number;
  private readonly pending = new Set<Promise<void>>();
  private window: Buffer = sharedBuffer(CHUNK_RAW_BYTES);
  /** The frame all-zero windows share, once compressed. */
  private zeroFrame: Promise<PrecompressedWindow | null> | null = null;
  /** Window buffers whose compression has finished, reused so a long image allocates only a few. */
  private readonly spare: Buffer[] = [];
  private filled = 0;
  private index = 0;
  private fileOffset = 0;

  constructor(readonly path: string, options: { maxInFlight?: number } = {}) {
    super();
    this.maxInFlight = Math.max(1, options.maxInFlight ?? availableParallelism());
    this.file = open(path, 'wx');
    this.file.catch(() => {}); // reported by finish()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.absorb(chunk).then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.filled === 0) return callback();
    this.completeWindow().then(() => callback(), callback);
  }

  private async absorb(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length && !this.destroyed; ) {
      const taken = chunk.copy(this.window, this.filled, at);
      this.filled += taken;
      at += taken;
      if (this.filled === CHUNK_RAW_BYTES) await this.completeWindow();
    }
  }

  /** Waits for the compressions in flight and closes the side file; what is in `windows` is then on disk. */
  async finish(): Promise<Precompressed> {
    while (this.pending.size) await Promise.all(this.pending);
    await (await this.file).close();
    return { path: this.path, windows: this.windows };
  }

  private async completeWindow(): Promise<void> {
    const index = this.index++;
    const length = this.filled;
    this.filled = 0;
    const buffer = this.window;
    const data = buffer.subarray(0, length);
    if (length === CHUNK_RAW_BYTES && data.equals(ZEROS)) {
      // Free space in partitions sent whole, gaps: one frame serves them all (the window buffer is reused as it is).
      this.zeroFrame ??= this.compress(ZEROS);
      this.track(this.zeroFrame.then((frame) => frame && this.windows.set(index, frame)));
      return;
    }
    while (this.pending.size >= this.maxInFlight) await Promise.race(this.pending);
    this.window = this.spare.pop() ?? sharedBuffer(CHUNK_RAW_BYTES); // `buffer` now belongs to this compression
    this.track(this.compress(data).then((frame) => {
      if (frame) this.windows.set(index, frame);
      this.spare.push(buffer);
    }));
  }

  /** Compresses one window into the side file; null where that failed (the chunk builder then does it, and reports errors). */
  private async compress(data: Buffer): Promise<PrecompressedWindow | null> {
    try {
      const sha256 = createHash('sha256').update(data).digest('hex');
      const frame = await compressZstd(data);
      const file = await this.file;
      const at = this.fileOffset;
      this.fileOffset += frame.length;
      await file.write(frame, 0, frame.length, at);
      return { raw_length: data.length, sha256, file_offset: at, compressed_length: frame.length };
    } catch {
      return null;
    }
  }

  private track(job: Promise<unknown>): void {
    const tracked: Promise<void> = job.then(() => {}, () => {}).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}
