// Image uploads reach the server as 64 KiB buffers that Node's HTTP parser takes from malloc and that the garbage
// collector hands back in bursts of tens of MiB. With its start-up settings glibc returns each burst to the kernel
// (memory free at the top of the heap beyond a trim threshold of 128 KiB–2 MiB) and the next burst faults every
// page in again: a 2 GiB upload cost some 270,000 page faults, a fifth of the main thread's time.
//
// glibc raises its mmap threshold to the size of any mmap-ed block that is freed (up to 32 MiB), and its trim
// threshold to twice that (mallopt(3), "dynamic mmap threshold"). One such block, allocated and freed once at
// start-up, keeps the bursts in the heap: the effect of MALLOC_TRIM_THRESHOLD_, for every way the server is started.
// Other C libraries simply allocate and free the block.
//
// 16 MiB, measured on 2 GiB uploads: ~16,000–24,000 faults instead of ~270,000. 8 MiB saved almost nothing; the
// 32 MiB maximum saved a few thousand more but kept ~80 MiB more resident after a few uploads.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** Just under 16 MiB with malloc's own header: thresholds of 16 MiB (mmap) and 32 MiB (trim). */
const BLOCK_BYTES = (16 << 20) - (64 << 10);

let raised: Promise<void> | null = null;

/** Once per process. The block lives in a short-lived thread, so that it is freed the moment the thread ends. */
export function raiseMallocThresholds(): Promise<void> {
  raised ??= (async () => {
    const thread = new Worker(`new ArrayBuffer(${BLOCK_BYTES})`, { eval: true, execArgv: [] });
    await once(thread, 'exit');
  })();
  return raised;
}
