// Writes the image the way rpi-imager does, so an interrupted install never leaves a card that looks bootable:
// the first and last MiB of the target are zeroed first, and the image's first MiB (partition table and boot
// code) is held in memory and written only after everything else is written, verified and customised.
// Everything else goes out in large writes aligned to the block size, two buffers alternating so the next
// block fills while the previous one is being written. Image delivery v2 hands over whole chunks at their own
// offsets, in any order (`writeAt`): the same held-back MiB, the same periodic flushes.
import { InstallerError } from './installer.errors.js';
import type { DiskTarget } from './disk.target.js';

export const HOLD_BACK_BYTES = 1 << 20;
export const DEFAULT_BLOCK_BYTES = 4 << 20;
/**
 * Flush to the device every so often, as rpi-imager does: otherwise gigabytes pile up in the page cache, the
 * progress bar shows the network instead of the card, and the final fsync stalls for minutes without a report.
 */
export const DEFAULT_SYNC_EVERY_BYTES = 64 << 20;

export class ImageWriter {
  readonly heldBack: Buffer;
  private accepted = 0;
  private filling: Buffer;
  private spare: Buffer;
  private fill = 0;
  private fillStart: number;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private unsynced = 0;

  constructor(
    private readonly target: DiskTarget,
    readonly imageSize: number,
    private readonly blockBytes = DEFAULT_BLOCK_BYTES,
    private readonly syncEveryBytes = DEFAULT_SYNC_EVERY_BYTES,
  ) {
    if (blockBytes % HOLD_BACK_BYTES !== 0 && HOLD_BACK_BYTES % blockBytes !== 0) throw new Error('block size must align with the held-back MiB');
    if (imageSize > target.capacity) throw new InstallerError('TARGET', `the image (${imageSize} bytes) does not fit the target (${target.capacity} bytes)`);
    this.heldBack = Buffer.alloc(Math.min(HOLD_BACK_BYTES, imageSize));
    this.filling = Buffer.allocUnsafe(blockBytes);
    this.spare = Buffer.allocUnsafe(blockBytes);
    this.fillStart = this.heldBack.length;
  }

  /** Bytes accepted so far (held back, buffered or written). */
  get bytesAccepted(): number {
    return this.accepted;
  }

  /** Zeroes the first and last MiB of the target so a half-written disk has no valid partition table. */
  async prepare(): Promise<void> {
    const zeros = Buffer.alloc(Math.min(HOLD_BACK_BYTES, this.target.capacity));
    await this.target.write(zeros, 0);
    const tail = Math.max(zeros.length, this.target.capacity - HOLD_BACK_BYTES);
    if (tail < this.target.capacity) await this.target.write(zeros.subarray(0, this.target.capacity - tail), tail);
    await this.target.sync();
  }

  /**
   * Accepts the next bytes of the image, in order. Returns a promise only when it has to wait for the disk
   * (a full block while the previous one is still being written); otherwise the bytes are buffered at once.
   */
  write(chunk: Buffer): Promise<void> | undefined {
    try {
      return this.accept(chunk);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private accept(chunk: Buffer): Promise<void> | undefined {
    this.throwIfFailed();
    if (this.accepted + chunk.length > this.imageSize) {
      throw new InstallerError('BAD_RESPONSE', `the server sent more than the image's ${this.imageSize} bytes`);
    }
    let offset = 0;
    while (offset < chunk.length) {
      if (this.accepted < this.heldBack.length) {
        const n = Math.min(chunk.length - offset, this.heldBack.length - this.accepted);
        chunk.copy(this.heldBack, this.accepted, offset, offset + n);
        offset += n;
        this.accepted += n;
        continue;
      }
      const n = Math.min(chunk.length - offset, this.blockLimit() - this.fill);
      chunk.copy(this.filling, this.fill, offset, offset + n);
      this.fill += n;
      offset += n;
      this.accepted += n;
      if (this.fill === this.blockLimit()) {
        const rest = chunk.subarray(offset);
        return this.flushBlock().then(() => (rest.length > 0 ? this.accept(rest) : undefined));
      }
    }
    return undefined;
  }

  /** Writes what is still buffered and fsyncs; everything but the held-back MiB is then on the disk. */
  async finish(): Promise<void> {
    if (this.accepted !== this.imageSize) {
      throw new InstallerError('IO', `only ${this.accepted} of ${this.imageSize} image bytes arrived before the write was finished`);
    }
    if (this.fill > 0) await this.flushBlock();
    await this.inFlight;
    this.throwIfFailed();
    await this.target.sync();
  }

  /**
   * Image delivery v2: the image's bytes at `position`, in any order, several calls at once. What falls inside
   * the held-back first MiB is kept in memory; the rest is written at once (chunk offsets are block-aligned).
   */
  async writeAt(data: Buffer, position: number): Promise<void> {
    this.throwIfFailed();
    if (position < 0 || position + data.length > this.imageSize) {
      throw new InstallerError('BAD_RESPONSE', `bytes ${position}-${position + data.length} lie outside the image's ${this.imageSize} bytes`);
    }
    let rest = data;
    let at = position;
    if (at < this.heldBack.length) {
      const n = Math.min(rest.length, this.heldBack.length - at);
      rest.copy(this.heldBack, at, 0, n);
      rest = rest.subarray(n);
      at += n;
    }
    if (rest.length > 0) await this.writeOut(rest, at);
    this.throwIfFailed();
  }

  /** v2's counterpart of `finish`: every range is on the disk, fsynced; the held-back MiB is still in memory. */
  async finishRanges(): Promise<void> {
    this.throwIfFailed();
    await this.target.sync();
  }

  /** The last step: the partition table goes on the disk. */
  async commitHeldBack(): Promise<void> {
    await this.target.write(this.heldBack, 0);
    await this.target.sync();
  }

  /** Bytes until the next block boundary, so every write after the first starts block-aligned. */
  private blockLimit(): number {
    const boundary = (Math.floor(this.fillStart / this.blockBytes) + 1) * this.blockBytes;
    return Math.min(boundary, this.imageSize) - this.fillStart;
  }

  private async flushBlock(): Promise<void> {
    // The spare buffer is free only once its previous write has completed.
    await this.inFlight;
    this.throwIfFailed();
    this.inFlight = this.writeOut(this.filling.subarray(0, this.fill), this.fillStart);
    [this.filling, this.spare] = [this.spare, this.filling];
    this.fillStart += this.fill;
    this.fill = 0;
  }

  /** One write to the target, flushed to the device every `syncEveryBytes`; a failure is kept, not thrown. */
  private writeOut(data: Buffer, position: number): Promise<void> {
    this.unsynced += data.length;
    const sync = this.unsynced >= this.syncEveryBytes;
    if (sync) this.unsynced = 0;
    return this.target
      .write(data, position)
      .then(() => (sync ? this.target.sync() : undefined))
      .catch((error: unknown) => {
        this.failure ??= new InstallerError('IO', `writing the target at byte ${position} failed: ${(error as Error).message}`, { cause: error });
      });
  }

  private throwIfFailed(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the write's failure as it was caught
    if (this.failure) throw this.failure;
  }
}
