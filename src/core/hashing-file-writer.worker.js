// @ts-check
// The disk side of a HashingFileWriter (hashing-file-writer.ts), on a thread of its own. It allocates the ring's
// slots, and for each full slot handed over it updates the SHA-256, writes the bytes at their place in the file and
// hands the slot back, so that the thread reading the network only copies. Plain JavaScript so that the same file
// runs from the sources and from dist.
//
// Direct writes (O_DIRECT) when the file system takes them: the disk reads the slot itself, where a buffered write
// has the CPU copy every byte into the page cache — on these machines that copy cost more than the SHA-256. Several
// writes stay in flight while the next slot is hashed. Where direct writes are refused, buffered writes of
// writeBytes, with writeback started every syncEveryBytes.
import { createHash } from 'node:crypto';
import { fdatasync, fsyncSync, ftruncateSync, write, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** @typedef {import('./hashing-file-writer.js').WriterSetup} WriterSetup */
/** @typedef {import('./hashing-file-writer.js').ToDiskThread} ToDiskThread */
/** @typedef {import('./hashing-file-writer.js').FromDiskThread} FromDiskThread */
/** @typedef {import('./hashing-file-writer.js').RingSlot} RingSlot */

/** File offsets and lengths of direct writes are multiples of the device's logical block, at most this. */
const BLOCK = 4096;
/** Direct writes also need the slot's memory address aligned, which JavaScript cannot see: each slot gets this much
 * slack and its first usable offset is found by trying (a refused alignment is EINVAL, before any I/O). */
const ALIGN_SLACK = 4096;
const PROBE_STEP = 16;

const setup = /** @type {WriterSetup} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const hash = createHash('sha256');
let position = 0;
let failed = false;
/** Writes queued or running, and a running writeback: the file is completed once there are none. */
let outstanding = 0;
/** Set by the end of the stream. @type {(() => void) | null} */
let whenIdle = null;

/** @param {FromDiskThread} message @param {ArrayBuffer[]} [transfer] */
const send = (message, transfer = []) => port.postMessage(message, transfer);

/** @param {unknown} error */
function fail(error) {
  if (failed) return;
  failed = true;
  const { code, message } = /** @type {NodeJS.ErrnoException} */ (error);
  send({ type: 'failed', code, message: String(message) });
}

/** @param {number} change */
function countOutstanding(change) {
  outstanding += change;
  if (outstanding > 0 || !whenIdle) return;
  const run = whenIdle;
  whenIdle = null;
  run();
}

/** @param {number} index @param {ArrayBuffer} buffer */
const handBack = (index, buffer) => send({ type: 'stored', index, buffer }, [buffer]);

/**
 * The first offset in `buffer` at which a direct write is accepted, trying `likely` first; null if none is.
 * The probes write the slot's zeros at the start of the new file, which real data or the final truncation replace.
 * @param {ArrayBuffer} buffer @param {number | null} likely
 */
function alignedOffset(buffer, likely) {
  const fd = /** @type {number} */ (setup.directFd);
  const candidates = likely === null ? [] : [likely];
  for (let offset = 0; offset <= ALIGN_SLACK; offset += PROBE_STEP) candidates.push(offset);
  for (const offset of candidates) {
    try {
      writeSync(fd, new Uint8Array(buffer, offset, BLOCK), 0, BLOCK, 0);
      return offset;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EINVAL') throw error;
    }
  }
  return null;
}

/** Direct slots when the file was opened for direct writes and every slot finds an alignment; else plain slots. */
function allocateSlots() {
  /** @type {RingSlot[]} */
  const slots = [];
  if (setup.directFd !== null) {
    for (let index = 0; index < setup.slotCount; index++) {
      const buffer = new ArrayBuffer(setup.slotBytes + ALIGN_SLACK);
      const offset = alignedOffset(buffer, slots.at(-1)?.offset ?? null);
      if (offset === null) break;
      slots.push({ buffer, offset });
    }
    if (slots.length === setup.slotCount) return { mode: /** @type {const} */ ('direct'), slots };
  }
  slots.length = 0;
  for (let index = 0; index < setup.slotCount; index++) slots.push({ buffer: new ArrayBuffer(setup.slotBytes), offset: 0 });
  return { mode: /** @type {const} */ ('buffered'), slots };
}

function directWriter() {
  const fd = /** @type {number} */ (setup.directFd);
  /** Hashed slots waiting for a write, in file order. @type {Array<{ index: number, buffer: ArrayBuffer, bytes: Uint8Array, at: number }>} */
  const queue = [];
  let running = 0;
  let padded = false;

  /** Writes all of `bytes` at `at` (a direct write may take fewer bytes than asked). */
  function writeAll(/** @type {Uint8Array} */ bytes, /** @type {number} */ at, /** @type {(error: Error | null) => void} */ done, from = 0) {
    write(fd, bytes, from, bytes.length - from, at + from, (error, written) => {
      if (error) done(error);
      else if (from + written < bytes.length) writeAll(bytes, at, done, from + written);
      else done(null);
    });
  }

  function startWrites() {
    while (running < setup.directWritesInFlight && queue.length > 0 && !failed) {
      const job = /** @type {(typeof queue)[number]} */ (queue.shift());
      running++;
      writeAll(job.bytes, job.at, (error) => {
        running--;
        if (error) fail(error);
        if (failed) return;
        handBack(job.index, job.buffer);
        startWrites();
        countOutstanding(-1);
      });
    }
  }

  return {
    /** @param {number} index @param {ArrayBuffer} buffer @param {number} offset @param {number} length */
    store(index, buffer, offset, length) {
      // Only the last slot is partial: its tail is padded to a whole block, and the file truncated at the end.
      if (padded) throw new Error('A slot arrived after the last one.');
      const blocks = Math.ceil(length / BLOCK) * BLOCK;
      const bytes = new Uint8Array(buffer, offset, blocks);
      hash.update(bytes.subarray(0, length));
      if (blocks > length) {
        bytes.fill(0, length);
        padded = true;
      }
      queue.push({ index, buffer, bytes, at: position });
      position += length;
      countOutstanding(1);
      startWrites();
    },
    complete() {
      ftruncateSync(fd, position);
      fsyncSync(fd);
    },
  };
}

function bufferedWriter() {
  const { fd, writeBytes, syncEveryBytes } = setup;
  let unsynced = 0;

  /** Starts the kernel writing what is already down while the upload goes on (see SYNC_EVERY_BYTES). */
  function startWriteback() {
    unsynced = 0;
    countOutstanding(1);
    fdatasync(fd, (error) => {
      if (error) fail(error);
      countOutstanding(-1);
    });
  }

  return {
    /** @param {number} index @param {ArrayBuffer} buffer @param {number} offset @param {number} length */
    store(index, buffer, offset, length) {
      const bytes = new Uint8Array(buffer, offset, length);
      // Piece by piece, each hashed and written while it is still in the CPU's cache.
      for (let start = 0; start < length; start += writeBytes) {
        const piece = bytes.subarray(start, Math.min(start + writeBytes, length));
        hash.update(piece);
        for (let done = 0; done < piece.length; ) done += writeSync(fd, piece, done, piece.length - done, position + done);
        position += piece.length;
      }
      unsynced += length;
      if (unsynced >= syncEveryBytes && outstanding === 0) startWriteback();
      handBack(index, buffer);
    },
    complete() {
      fsyncSync(fd);
    },
  };
}

try {
  const { mode, slots } = allocateSlots();
  const offsets = slots.map((slot) => slot.offset);
  const writer = mode === 'direct' ? directWriter() : bufferedWriter();
  send({ type: 'ready', mode, slots }, slots.map((slot) => slot.buffer));

  port.on('message', (/** @type {ToDiskThread} */ message) => {
    if (failed) return;
    if (message.type === 'slot') {
      try {
        writer.store(message.index, message.buffer, /** @type {number} */ (offsets[message.index]), message.length);
      } catch (error) {
        fail(error);
      }
      return;
    }
    // The end of the stream: the file is completed as soon as no write (or writeback) is outstanding, maybe now.
    whenIdle = () => {
      if (failed) return;
      try {
        writer.complete();
        send({ type: 'finished', sha256: hash.digest('hex'), size: position });
      } catch (error) {
        fail(error);
      }
    };
    countOutstanding(0);
  });
} catch (error) {
  fail(error);
}
