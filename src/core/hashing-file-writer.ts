// Writes a stream into a new file while computing its SHA-256 and size, for image uploads of many gigabytes.
//
// Where the time goes on a 2-core machine receiving an upload: reading the socket and parsing the form (main
// thread), SHA-256 (~1.4 GiB/s) and copying into the page cache. Done on one thread, that was 220 MiB/s. Here the
// main thread only copies each arriving chunk into a ring of slots; a full slot is handed (transferred, not copied)
// to a disk thread (the worker next to this file), which hashes and writes it and hands it back. The ring bounds
// memory (RING_BYTES whatever the file size), reuses its buffers instead of leaving garbage, and slows the network
// side down only when the disk side falls behind. (Plain buffers moved back and forth, because copying into a
// SharedArrayBuffer costs V8 three times a plain copy.)
import { close as fsClose, open as fsOpen } from 'node:fs';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AppError } from '../contracts/errors.js';
import { formatBytes } from '../contracts/format.js';

const SLOT_BYTES = 1 << 20;
const SLOT_COUNT = 8;
export const RING_BYTES = SLOT_BYTES * SLOT_COUNT;
/**
 * The disk thread writes each slot in pieces of this size: on these machines the kernel spends several times more
 * CPU per byte on 1 MiB writes than on 256 KiB ones (measured with the upload benchmark; 128–512 KiB are close).
 */
const WRITE_BYTES = 256 << 10;
/**
 * The disk thread starts writeback this often: the closing fsync then has little left to do, and the writes stay
 * cheap (with gigabytes dirty in the page cache, the same writes cost the kernel several times the CPU).
 */
const SYNC_EVERY_BYTES = 64 << 20;
const DISK_THREAD = new URL('./hashing-file-writer.worker.js', import.meta.url);

/** What the disk thread is started with. */
export interface WriterSetup {
  fd: number;
  writeBytes: number;
  syncEveryBytes: number;
}
/** Main thread → disk thread: a full slot (store its first `length` bytes), or the end of the stream (fsync, report). */
export type ToDiskThread = { type: 'slot'; index: number; buffer: ArrayBuffer; length: number } | { type: 'finish' };
/** Disk thread → main thread; a stored slot's buffer comes back with it. */
export type FromDiskThread =
  | { type: 'stored'; index: number; buffer: ArrayBuffer }
  | { type: 'finished'; sha256: string; size: number }
  | { type: 'failed'; code: string | undefined; message: string };

interface Slot {
  buffer: ArrayBuffer;
  bytes: Buffer;
}
const slotOf = (buffer: ArrayBuffer): Slot => ({ buffer, bytes: Buffer.from(buffer) });

export interface HashingWriterOptions {
  /** Refuse the stream once it grows past this many bytes. */
  maxBytes?: number;
  onProgress?: (bytes: number) => void;
}

/**
 * A Writable that creates `path` (never replacing a file) and finishes only once every byte is hashed, written and
 * fsynced. On any failure it is destroyed with the error (ENOSPC keeps its code); the caller removes the file.
 */
export class HashingFileWriter extends Writable {
  size = 0;
  /** Resolves once the file is closed and the disk thread stopped (or they never started). */
  readonly released: Promise<void>;
  private fd: number | null = null;
  private diskThread: Worker | null = null;
  /** Each slot's buffer, or null while the disk thread has it. */
  private readonly slots: Array<Slot | null> = Array.from({ length: SLOT_COUNT }, () => slotOf(new ArrayBuffer(SLOT_BYTES)));
  private current = 0;
  private filled = 0;
  /** A chunk only partly copied because the ring is full, resumed when the disk thread hands a slot back. */
  private held: { chunk: Buffer; offset: number; callback: (error?: Error | null) => void } | null = null;
  private digest: string | null = null;
  private onFinished: ((error?: Error | null) => void) | null = null;
  private markReleased!: () => void;

  constructor(
    private readonly path: string,
    private readonly options: HashingWriterOptions = {},
  ) {
    super({ highWaterMark: SLOT_BYTES });
    this.released = new Promise((resolve) => (this.markReleased = resolve));
  }

  sha256(): string {
    if (this.digest === null) throw new Error('The file is not complete yet.');
    return this.digest;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fsOpen(this.path, 'wx', 0o644, (error, fd) => {
      if (error) {
        this.markReleased();
        callback(error);
        return;
      }
      this.fd = fd;
      const setup: WriterSetup = { fd, writeBytes: WRITE_BYTES, syncEveryBytes: SYNC_EVERY_BYTES };
      let thread: Worker;
      try {
        // Plain JavaScript with no loader: none of the process's own flags (a TypeScript loader, --input-type…) apply.
        thread = new Worker(DISK_THREAD, { workerData: setup, execArgv: [] });
      } catch (threadError) {
        callback(threadError as Error); // _destroy closes the file
        return;
      }
      thread.on('message', (message: FromDiskThread) => this.onDiskMessage(message));
      thread.on('error', (threadError) => this.destroy(threadError));
      thread.on('exit', () => {
        if (this.diskThread === thread) this.destroy(new Error('The image writer thread stopped unexpectedly.'));
      });
      this.diskThread = thread;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const { maxBytes } = this.options;
    if (maxBytes !== undefined && this.size + chunk.length > maxBytes) {
      callback(new AppError('PAYLOAD_TOO_LARGE', `The image is larger than the ${formatBytes(maxBytes)} limit.`));
      return;
    }
    this.size += chunk.length;
    this.options.onProgress?.(this.size);
    this.copyIn(chunk, 0, callback);
  }

  /** Copies `chunk` from `offset` into the ring, handing each slot that fills to the disk thread. */
  private copyIn(chunk: Buffer, offset: number, callback: (error?: Error | null) => void): void {
    while (offset < chunk.length) {
      const slot = this.slots[this.current];
      if (!slot) {
        this.held = { chunk, offset, callback };
        return;
      }
      const count = Math.min(chunk.length - offset, SLOT_BYTES - this.filled);
      chunk.copy(slot.bytes, this.filled, offset, offset + count);
      this.filled += count;
      offset += count;
      if (this.filled === SLOT_BYTES) this.handOver();
    }
    callback();
  }

  private handOver(): void {
    const { buffer } = this.slots[this.current]!;
    this.slots[this.current] = null;
    this.send({ type: 'slot', index: this.current, buffer, length: this.filled }, [buffer]);
    this.current = (this.current + 1) % SLOT_COUNT;
    this.filled = 0;
  }

  private send(message: ToDiskThread, transfer: ArrayBuffer[] = []): void {
    this.diskThread!.postMessage(message, transfer);
  }

  private onDiskMessage(message: FromDiskThread): void {
    switch (message.type) {
      case 'stored': {
        this.slots[message.index] = slotOf(message.buffer);
        const held = this.held;
        if (held && message.index === this.current) {
          this.held = null;
          this.copyIn(held.chunk, held.offset, held.callback);
        }
        return;
      }
      case 'finished': {
        if (message.size !== this.size) {
          this.destroy(new Error(`The image writer stored ${message.size} bytes of ${this.size}.`));
          return;
        }
        this.digest = message.sha256;
        const finished = this.onFinished;
        this.onFinished = null;
        finished?.();
        return;
      }
      case 'failed':
        this.destroy(Object.assign(new Error(message.message), { code: message.code }));
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    // The slot being filled is always here, so the last partial slot can be handed over at once.
    if (this.filled > 0) this.handOver();
    this.onFinished = callback;
    this.send({ type: 'finish' });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const thread = this.diskThread;
    const fd = this.fd;
    this.diskThread = null;
    this.fd = null;
    // The disk thread may be inside a write: the descriptor is closed only once the thread has stopped.
    void (async () => {
      if (thread) await thread.terminate();
      if (fd !== null) await new Promise<void>((resolve) => fsClose(fd, () => resolve()));
    })().then(() => {
      this.markReleased();
      callback(error);
    });
  }
}
