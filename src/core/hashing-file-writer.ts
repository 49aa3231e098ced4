// Writes a stream into a new file while computing its SHA-256 and size, for image uploads of many gigabytes.
//
// Where the time goes on a 2-core machine receiving an upload: reading the socket and parsing the form (main
// thread), SHA-256 (~1.4 GiB/s) and getting the bytes to the disk. Done on one thread, that was 220 MiB/s. Here the
// main thread only copies each arriving chunk into a ring of slots; a full slot is handed (transferred, not copied)
// to a disk thread (the worker next to this file), which hashes and writes it (directly to the disk where the file
// system allows) and hands it back. The ring bounds memory (RING_BYTES whatever the file size), reuses its buffers
// instead of leaving garbage, and slows the network side down only when the disk side falls behind. (Plain buffers
// moved back and forth, because copying into a SharedArrayBuffer costs V8 three times a plain copy.)
import { close as fsClose, constants, open as fsOpen } from 'node:fs';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { AppError } from '../contracts/errors.js';
import { formatBytes } from '../contracts/format.js';

/** Slots of 4 MiB, six of them: of the sizes measured with the upload benchmark (1–4 MiB, 16–32 MiB in all), the
 * largest writes kept the disk busiest, and six slots leave room for three writes, one hash and one being filled. */
const SLOT_BYTES = 4 << 20;
const SLOT_COUNT = 6;
export const RING_BYTES = SLOT_BYTES * SLOT_COUNT;
/**
 * Buffered writes go down in pieces of this size: on these machines the kernel spends several times more CPU per
 * byte on 1 MiB writes than on 256 KiB ones (measured with the upload benchmark; 128–512 KiB are close).
 */
const WRITE_BYTES = 256 << 10;
/**
 * With buffered writes, writeback starts this often: the closing fsync then has little left to do, and the writes
 * stay cheap (with gigabytes dirty in the page cache, the same writes cost the kernel several times the CPU).
 */
const SYNC_EVERY_BYTES = 64 << 20;
/** Direct writes in flight at once, on libuv's shared pool of four threads: three ride out the disk's slower
 * moments while the next slot is hashed, and leave a thread for everything else (downloads read through it). */
const DIRECT_WRITES_IN_FLIGHT = 3;
const DISK_THREAD = new URL('./hashing-file-writer.worker.js', import.meta.url);

const openFile = promisify(fsOpen);
const closeFile = promisify(fsClose);

/** How the disk thread writes: straight from the slots to the disk, or through the page cache. */
export type WriteMode = 'direct' | 'buffered';

/** What the disk thread is started with: the file, and a second descriptor for direct writes when it opened. */
export interface WriterSetup {
  fd: number;
  directFd: number | null;
  slotBytes: number;
  slotCount: number;
  writeBytes: number;
  syncEveryBytes: number;
  directWritesInFlight: number;
}
/** A slot's memory, allocated by the disk thread: the slot's bytes start at `offset` (aligned for direct writes). */
export interface RingSlot {
  buffer: ArrayBuffer;
  offset: number;
}
/**
 * Main thread → disk thread: a slot to store (its first `length` bytes; every slot is full but the last), or the
 * end of the stream (fsync, report).
 */
export type ToDiskThread = { type: 'slot'; index: number; buffer: ArrayBuffer; length: number } | { type: 'finish' };
/** Disk thread → main thread; the ring comes with `ready`, a stored slot's buffer with `stored`. */
export type FromDiskThread =
  | { type: 'ready'; mode: WriteMode; slots: RingSlot[] }
  | { type: 'stored'; index: number; buffer: ArrayBuffer }
  | { type: 'finished'; sha256: string; size: number }
  | { type: 'failed'; code: string | undefined; message: string };

interface Slot {
  buffer: ArrayBuffer;
  bytes: Buffer;
}
const slotOf = (buffer: ArrayBuffer, offset: number): Slot => ({ buffer, bytes: Buffer.from(buffer, offset, SLOT_BYTES) });

/** A second descriptor of the new file for direct writes; null where the file system refuses them (EINVAL). */
async function openDirect(path: string): Promise<number | null> {
  try {
    return await openFile(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
}

export interface HashingWriterOptions {
  /** Refuse the stream once it grows past this many bytes. */
  maxBytes?: number;
  onProgress?: (bytes: number) => void;
  /** False: always write through the page cache (direct writes are tried by default). */
  direct?: boolean;
}

/**
 * A Writable that creates `path` (never replacing a file) and finishes only once every byte is hashed, written and
 * fsynced. On any failure it is destroyed with the error (ENOSPC keeps its code); the caller removes the file.
 */
export class HashingFileWriter extends Writable {
  size = 0;
  /** Known once the stream is open. */
  writeMode: WriteMode | null = null;
  /** Resolves once the files are closed and the disk thread stopped (or they never started). */
  readonly released: Promise<void>;
  private readonly fds: number[] = [];
  private diskThread: Worker | null = null;
  /** Each slot's memory (from the disk thread), or null while the disk thread has it. */
  private slots: Array<Slot | null> = [];
  private offsets: number[] = [];
  private current = 0;
  private filled = 0;
  /** A chunk only partly copied because the ring is full, resumed when the disk thread hands a slot back. */
  private held: { chunk: Buffer; offset: number; callback: (error?: Error | null) => void } | null = null;
  private digest: string | null = null;
  /** Settles _construct: the disk thread is ready, or failed before it was. */
  private onReady: ((error?: Error | null) => void) | null = null;
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
    // On failure _destroy closes whatever did open.
    this.start().then(() => callback(), callback);
  }

  private async start(): Promise<void> {
    const fd = await openFile(this.path, 'wx', 0o644);
    this.fds.push(fd);
    const directFd = this.options.direct === false ? null : await openDirect(this.path);
    if (directFd !== null) this.fds.push(directFd);
    const setup: WriterSetup = {
      fd,
      directFd,
      slotBytes: SLOT_BYTES,
      slotCount: SLOT_COUNT,
      writeBytes: WRITE_BYTES,
      syncEveryBytes: SYNC_EVERY_BYTES,
      directWritesInFlight: DIRECT_WRITES_IN_FLIGHT,
    };
    await new Promise<void>((resolve, reject) => {
      this.onReady = (error) => (error ? reject(error) : resolve());
      // Plain JavaScript with no loader: none of the process's own flags (a TypeScript loader, --input-type…) apply.
      const thread = new Worker(DISK_THREAD, { workerData: setup, execArgv: [] });
      thread.on('message', (message: FromDiskThread) => this.onDiskMessage(message));
      thread.on('error', (threadError) => this.fail(threadError));
      thread.on('exit', () => {
        if (this.diskThread === thread) this.fail(new Error('The image writer thread stopped unexpectedly.'));
      });
      this.diskThread = thread;
    });
  }

  /** Before the disk thread is ready the failure settles _construct; after, it destroys the stream. */
  private fail(error: Error): void {
    const ready = this.onReady;
    this.onReady = null;
    if (ready) ready(error);
    else this.destroy(error);
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
      case 'ready': {
        this.writeMode = message.mode;
        this.offsets = message.slots.map((slot) => slot.offset);
        this.slots = message.slots.map((slot) => slotOf(slot.buffer, slot.offset));
        const ready = this.onReady;
        this.onReady = null;
        ready?.();
        return;
      }
      case 'stored': {
        this.slots[message.index] = slotOf(message.buffer, this.offsets[message.index]!);
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
        this.fail(Object.assign(new Error(message.message), { code: message.code }));
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
    const fds = this.fds.splice(0);
    this.diskThread = null;
    // The disk thread may be inside a write: the descriptors are closed only once the thread has stopped.
    void (async () => {
      if (thread) await thread.terminate();
      await Promise.all(fds.map((fd) => closeFile(fd).catch(() => {})));
    })().then(() => {
      this.markReleased();
      callback(error);
    });
  }
}
