// @ts-check
// A zstd compressor thread for zstd.compressor.ts. Each message names one piece of an image in shared memory; the
// thread compresses it into its own shared output slot, given once at start, and answers with the frame's length.
// One compression context and one slot for every piece: nothing is allocated per piece, so the thread's memory
// stays where it started. Plain JavaScript so that the same file runs from the sources and from dist.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {typeof import('zstd-napi/binding.js')} */
const binding = createRequire(import.meta.url)('zstd-napi/binding.js');
const { level, output } = /** @type {{ level: number; output: Uint8Array }} */ (workerData);

const context = new binding.CCtx();
context.setParameter(binding.CParameter.compressionLevel, level);

parentPort?.on('message', (/** @type {{ id: number; data: Uint8Array }} */ { id, data }) => {
  try {
    parentPort?.postMessage({ id, length: context.compress2(output, data) });
  } catch (error) {
    parentPort?.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
