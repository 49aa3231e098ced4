// @ts-check
// The disk side of a HashingFileWriter (hashing-file-writer.ts), on a thread of its own: for each full slot handed
// over it updates the SHA-256, writes the bytes at their place in the file and hands the slot back, so that the
// thread that reads the network only copies. Plain JavaScript so that the same file runs from the sources and from dist.
import { createHash } from 'node:crypto';
import { fdatasync, fsyncSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** @typedef {import('./hashing-file-writer.js').WriterSetup} WriterSetup */
/** @typedef {import('./hashing-file-writer.js').ToDiskThread} ToDiskThread */
/** @typedef {import('./hashing-file-writer.js').FromDiskThread} FromDiskThread */

const { fd, writeBytes, syncEveryBytes } = /** @type {WriterSetup} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const hash = createHash('sha256');
let position = 0;
let unsynced = 0;
/** @type {Promise<void> | null} */
let writeback = null;
let failed = false;

/** @param {FromDiskThread} message @param {ArrayBuffer[]} [transfer] */
const send = (message, transfer = []) => port.postMessage(message, transfer);

/** @param {unknown} error */
function fail(error) {
  failed = true;
  const { code, message } = /** @type {NodeJS.ErrnoException} */ (error);
  send({ type: 'failed', code, message: String(message) });
}

/** Starts the kernel writing what is already down while the upload goes on (see SYNC_EVERY_BYTES). */
function startWriteback() {
  unsynced = 0;
  writeback = new Promise((resolve) =>
    fdatasync(fd, (error) => {
      if (error && !failed) fail(error);
      writeback = null;
      resolve();
    }),
  );
}

/** @param {ArrayBuffer} buffer @param {number} length */
function store(buffer, length) {
  const bytes = new Uint8Array(buffer, 0, length);
  hash.update(bytes);
  // Never more than writeBytes per call; and a regular file may take fewer bytes than asked.
  for (let done = 0; done < length; ) done += writeSync(fd, bytes, done, Math.min(writeBytes, length - done), position + done);
  position += length;
  unsynced += length;
  if (unsynced >= syncEveryBytes && !writeback) startWriteback();
}

port.on('message', (/** @type {ToDiskThread} */ message) => {
  if (failed) return;
  if (message.type === 'slot') {
    try {
      store(message.buffer, message.length);
      send({ type: 'stored', index: message.index, buffer: message.buffer }, [message.buffer]);
    } catch (error) {
      fail(error);
    }
    return;
  }
  void (async () => {
    await writeback;
    if (failed) return;
    try {
      fsyncSync(fd);
      send({ type: 'finished', sha256: hash.digest('hex'), size: position });
    } catch (error) {
      fail(error);
    }
  })();
});
