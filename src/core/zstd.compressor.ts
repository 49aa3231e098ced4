// zstd compression of image chunks on threads of their own, one per core, with libzstd through zstd-napi (built
// from its bundled sources at install, like better-sqlite3). Pieces and frames pass through shared memory. Node 20's zlib has no zstd, and spawning the zstd
// program per chunk was measured to cost the server dearly: every fork makes the parent copy-on-write-fault its
// whole heap afterwards (≈1.3 million page faults registering 1 GiB).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { CHUNK_RAW_BYTES } from '../contracts/image-delivery.js';

const { compressBound } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');

export const ZSTD_LEVEL = 3;
const THREAD = new URL('./zstd.compressor.worker.js', import.meta.url);

interface Job {
  id: number;
  data: Uint8Array;
  resolve: (frame: Buffer) => void;
  reject: (error: Error) => void;
}

type Answer = { id: number; length: number } | { id: number; error: string };

/** A few threads compressing one piece each at a time; idle threads do not keep the process alive. */
class CompressorPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private threads = 0;
  private nextId = 0;

  constructor(private readonly size: number, private readonly level: number) {}

  compress(data: Uint8Array): Promise<Buffer> {
    if (data.length > CHUNK_RAW_BYTES) return Promise.reject(new Error(`a piece of ${data.length} bytes is larger than a chunk`));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, data, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length) {
      const worker = this.idle.pop() ?? (this.threads < this.size ? this.start() : undefined);
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.ref();
      worker.postMessage({ id: job.id, data: job.data });
    }
  }

  private start(): Worker {
    this.threads++;
    const output = sharedBuffer(compressBound(CHUNK_RAW_BYTES));
    const worker = new Worker(THREAD, { workerData: { level: this.level, output }, execArgv: [] });
    worker.on('message', (answer: Answer) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      // Copied out before the thread may take another piece into the same slot.
      if (job && 'length' in answer) job.resolve(Buffer.from(output.subarray(0, answer.length)));
      else job?.reject(new Error(`zstd compression failed: ${'error' in answer ? answer.error : 'no answer'}`));
      this.dispatch();
    });
    // A thread that dies takes its piece with it; the piece fails, the pool starts another thread when needed.
    let gone = false;
    const lost = (error: Error) => {
      if (gone) return;
      gone = true;
      this.threads--;
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      job?.reject(new Error(`zstd compression thread stopped: ${error.message}`, { cause: error }));
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => code !== 0 && lost(new Error(`exit code ${code}`)));
    return worker;
  }
}

let pool: CompressorPool | null = null;

/** A buffer the compressor threads read in place instead of receiving a copy: for pieces handed to compressZstd. */
export const sharedBuffer = (bytes: number): Buffer => Buffer.from(new SharedArrayBuffer(bytes));

/** One independent zstd frame holding `data`, its content size recorded in the frame header. */
export function compressZstd(data: Uint8Array): Promise<Buffer> {
  pool ??= new CompressorPool(availableParallelism(), ZSTD_LEVEL);
  return pool.compress(data);
}
