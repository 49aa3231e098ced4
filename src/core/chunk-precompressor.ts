// Compresses an image's chunks while it is still streaming in, on the cores the stream leaves idle (decompressing
// an .img.xz keeps one core busy for the whole upload), so that most chunks are ready when the block map is
// known. It passes the raw bytes through untouched and never slows them: a window that completes while the
// compressors are all busy is simply left for the chunk builder, as are all-zero windows.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { CHUNK_RAW_BYTES } from '../contracts/image-delivery.js';
import { compressZstd } from './zstd.compressor.js';

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
  private window = Buffer.allocUnsafe(CHUNK_RAW_BYTES);
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
    for (let at = 0; at < chunk.length; ) {
      const taken = chunk.copy(this.window, this.filled, at);
      this.filled += taken;
      at += taken;
      if (this.filled === CHUNK_RAW_BYTES) this.completeWindow();
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.filled > 0) this.completeWindow();
    callback();
  }

  /** Waits for the compressions in flight and closes the side file; what is in `windows` is then on disk. */
  async finish(): Promise<Precompressed> {
    while (this.pending.size) await Promise.all(this.pending);
    await (await this.file).close();
    return { path: this.path, windows: this.windows };
  }

  private completeWindow(): void {
    const index = this.index++;
    const length = this.filled;
    this.filled = 0;
    const data = this.window.subarray(0, length);
    if (this.pending.size >= this.maxInFlight || data.equals(ZEROS.subarray(0, length))) return; // the window buffer is reused
    this.window = Buffer.allocUnsafe(CHUNK_RAW_BYTES); // `data` now belongs to its compression
    const sha256 = createHash('sha256').update(data).digest('hex');
    const job = compressZstd(data)
      .then(async (frame) => {
        const file = await this.file;
        const at = this.fileOffset;
        this.fileOffset += frame.length;
        await file.write(frame, 0, frame.length, at);
        this.windows.set(index, { raw_length: length, sha256, file_offset: at, compressed_length: frame.length });
      })
      // A window that could not be compressed ahead is compressed by the chunk builder, which reports errors.
      .catch(() => {})
      .finally(() => this.pending.delete(job));
    this.pending.add(job);
  }
}
