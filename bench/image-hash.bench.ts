// Image registration hashing throughput against `openssl dgst -sha256` on the same file.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CHUNK_SIZE, createImageStore } from '../src/core/image-store.js';
import { envNumber, gibPerSecond, hasCommand, ratio, row, tempDir, writeRandomFile } from './support.js';

export default async function benchImageHash(): Promise<void> {
  const mib = envNumber('PITCREW_BENCH_HASH_MIB', 1024);
  const temp = tempDir('hash');
  try {
    const file = join(temp.dir, 'master.img');
    await writeRandomFile(file, mib);
    const bytes = mib << 20;
    console.log(`  ${mib} MiB file (in the page cache after writing)`);

    let openssl = 0;
    if (hasCommand('openssl')) {
      const started = performance.now();
      const result = spawnSync('openssl', ['dgst', '-sha256', file], { encoding: 'utf8' });
      openssl = performance.now() - started;
      if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
      row('openssl dgst -sha256', gibPerSecond(bytes, openssl));
    } else row('openssl dgst -sha256', 'not installed');

    const hashStarted = performance.now();
    const hash = createHash('sha256');
    await pipeline(createReadStream(file, { highWaterMark: CHUNK_SIZE }), hash);
    const hashOnly = performance.now() - hashStarted;
    row('streamed SHA-256 (1 MiB reads)', gibPerSecond(bytes, hashOnly), openssl ? ratio(openssl, hashOnly, 'openssl speed') : undefined);

    const store = createImageStore(join(temp.dir, 'store'));
    const registerStarted = performance.now();
    await store.ingestFile(file, 'registered.img');
    const register = performance.now() - registerStarted;
    row('registration: hash + copy into store + fsync', gibPerSecond(bytes, register), openssl ? ratio(openssl, register, 'openssl speed') : undefined);
    console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (constant memory: streamed in 1 MiB chunks)`);
  } finally {
    temp.remove();
  }
}
