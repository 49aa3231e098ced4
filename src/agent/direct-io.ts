// O_DIRECT on the card: reads that see the card rather than the kernel's copy of what was just written, and writes
// that go from the installer's buffer to the card without first being copied into the page cache (on a
// two-core bench host that copy was a fifth of an installer's CPU; on a board it is memory the page cache would
// otherwise fill with the whole image). The kernel wants the buffer's address aligned (512 or 4096 bytes,
// device-dependent) and Node does not expose addresses, so an over-allocated buffer is probed, with the real
// operation, for an offset the kernel accepts.
import type { FileHandle } from 'node:fs/promises';
import { InstallerError } from './installer.errors.js';

/** Room for any alignment the kernel may ask of a direct I/O buffer. */
const ALIGN_SLACK = 4096;
const PROBE_STEP = 16;
/**
 * A buffer this large is its own mmap with a 16-byte header in front, so the page boundary is usually 16 bytes
 * short of the slack: tried first, then every other step.
 */
const PROBE_ORDER = [ALIGN_SLACK - PROBE_STEP, ...Array.from({ length: ALIGN_SLACK / PROBE_STEP + 1 }, (_, i) => i * PROBE_STEP).filter((offset) => offset !== ALIGN_SLACK - PROBE_STEP)];

/** The error the kernel gives a direct read or write whose buffer, position or length it cannot take. */
export const isAlignmentRefusal = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'EINVAL';

/**
 * A view of `size` bytes, inside a fresh buffer, at an offset where `attempt` (the caller's real read or write into
 * or from that view) is accepted, with what the attempt returned; null when no offset is. Any error other than the
 * kernel's refusal of the buffer is thrown.
 */
export async function probeAlignedView<T>(size: number, attempt: (view: Buffer) => Promise<T>): Promise<{ view: Buffer; result: T } | null> {
  const backing = Buffer.allocUnsafeSlow(size + ALIGN_SLACK);
  for (const offset of PROBE_ORDER) {
    const view = backing.subarray(offset, offset + size);
    try {
      return { view, result: await attempt(view) };
    } catch (error) {
      if (!isAlignmentRefusal(error)) throw error;
    }
  }
  return null;
}

/**
 * Direct writes must start and end on a logical sector. Only writes of whole 4 KiB pages go this way: every sector
 * size divides them, so a refusal means direct I/O does not work on the target at all, not that this write was odd
 * (the rare odd one, such as a last chunk, goes through the page cache without a probe).
 */
const PAGE_BYTES = 4096;

/** Writes all of `data` at `position` of `path` (named in errors), however many calls the kernel takes. */
export async function writeFully(handle: FileHandle, data: Buffer, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0) throw new InstallerError('IO', `writing ${path} at byte ${position + done} made no progress`);
    done += bytesWritten;
  }
}

/**
 * Writes through an O_DIRECT handle, each write copied into an aligned buffer of a small pool (one per write in
 * flight). `write` answers false when the kernel will not take a write this way (off a page, or no buffer alignment
 * it accepts): the caller writes it through the page cache instead, and after a refusal at every alignment so does
 * every later write.
 */
export class DirectWriter {
  private readonly free: Buffer[] = [];
  private refused = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly bufferBytes = 4 << 20,
  ) {}

  async write(data: Buffer, position: number): Promise<boolean> {
    if (this.refused || position % PAGE_BYTES !== 0 || data.length % PAGE_BYTES !== 0) return false;
    for (let done = 0; done < data.length; done += this.bufferBytes) {
      if (!(await this.writePiece(data.subarray(done, done + this.bufferBytes), position + done))) return false;
    }
    return true;
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  /** At most a pool buffer's worth: through a pooled buffer, or a new one probed with this very write. */
  private async writePiece(piece: Buffer, position: number): Promise<boolean> {
    const writeFrom = (view: Buffer) => {
      piece.copy(view);
      return writeFully(this.handle, view.subarray(0, piece.length), position, this.path);
    };
    const pooled = this.free.pop();
    if (pooled) {
      try {
        await writeFrom(pooled);
        this.free.push(pooled);
        return true;
      } catch (error) {
        if (!isAlignmentRefusal(error)) {
          this.free.push(pooled);
          throw error;
        }
        // Probed by a smaller write, which can pass where a larger one from the same address is refused: dropped.
      }
    }
    const probed = await probeAlignedView(this.bufferBytes, writeFrom);
    if (!probed) {
      this.refused = true;
      return false;
    }
    this.free.push(probed.view);
    return true;
  }
}
