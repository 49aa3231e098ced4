// Registering a compressed master: Pitcrew's registration of a Raspberry-Pi-OS-like .img.xz (decompressed as it
// streams, hashed, stored, synced, registered — and whatever else the image service's registration does, such as
// building the image's delivery) against `xz -dc FILE | zstd -3 -q -c > /dev/null` on the same file: the work of
// turning the download into something to serve, done by the standard tools. Target: at least as fast.
//
// The master is the fleet benchmark's (bench/pi-os-master.ts: real arm64 Debian packages in an MBR + FAT32 + ext4
// image, free space zero), compressed with `xz -T0` (multi-block, as Pi OS ships) and cached beside it
// (PITCREW_BENCH_CACHE, default data/bench-cache/). The first run builds both, which takes several minutes; later
// runs reuse them. The two take turns, round after round, because on a shared machine either figure moves from one
// minute to the next; medians are compared, bests shown beside them. PITCREW_BENCH_REGISTER_IMAGE_MIB sets the
// image size (default 2662, ~2.6 GiB as Pi OS Lite), PITCREW_BENCH_ROUNDS the rounds (default 2: with
// the default image a round is about a minute on two cores);
// PITCREW_BENCH_REGISTER_FILE names an .img.xz of your own (a Raspberry Pi OS download) to use instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { createCore } from '../src/core/index.js';
import { benchCacheDir, piOsMaster, prepareMasterTools, rootfsTarName } from './pi-os-master.js';
import { envNumber, hasCommand, ratio, row, tempDir, Timings } from './support.js';

const MIB = 1 << 20;

function shell(script: string, args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${script} exited with ${code}`))));
  });
}

const mibPerSecond = (bytes: number, ms: number) => `${(bytes / MIB / (ms / 1000)).toFixed(0)} MiB/s`;

/** The master compressed with `xz -T0`, cached beside it. */
async function compressedMaster(imagePath: string): Promise<{ path: string; cached: boolean }> {
  const path = `${imagePath}.xz`;
  if (existsSync(path)) return { path, cached: true };
  const partial = `${path}.partial`;
  console.log('  compressing the master with xz -T0 (minutes on two cores; cached afterwards)');
  try {
    await shell('xz -T0 -c "$1" > "$2"', [imagePath, partial]);
    renameSync(partial, path);
  } finally {
    rmSync(partial, { force: true });
  }
  return { path, cached: false };
}

export default async function benchImageRegister(): Promise<void> {
  const missing = ['xz', 'zstd'].filter((command) => !hasCommand(command));
  if (missing.length > 0) {
    console.log(`  skipped: ${missing.join(' and ')} not installed (apt-get install xz-utils zstd)`);
    return;
  }
  const rounds = Math.round(envNumber('PITCREW_BENCH_ROUNDS', 2));
  let archive: { path: string; cached: boolean };
  let described: string;
  const own = process.env.PITCREW_BENCH_REGISTER_FILE;
  if (own) {
    archive = { path: own, cached: true };
    described = own;
  } else {
    const problem = prepareMasterTools(!existsSync(join(benchCacheDir(), rootfsTarName())));
    if (problem) {
      console.log(`  skipped: ${problem} (or set PITCREW_BENCH_REGISTER_FILE to an .img.xz)`);
      return;
    }
    const master = await piOsMaster(Math.round(envNumber('PITCREW_BENCH_REGISTER_IMAGE_MIB', 2662)), (line) => console.log(`  ${line}`));
    archive = await compressedMaster(master.path);
    described = `the ${(master.size / MIB).toFixed(0)} MiB master (${(master.rootUsedBytes / MIB).toFixed(0)} MiB of files)`;
  }
  const archiveBytes = statSync(archive.path).size;
  console.log(`  ${described} as a ${(archiveBytes / MIB).toFixed(0)} MiB .img.xz${archive.cached ? ' (cached)' : ''}; ${rounds} round(s) taking turns, medians (and bests); every registration is synced before the next`);

  const temp = tempDir('register');
  const db = openDatabase(join(temp.dir, 'pitcrew.db'));
  try {
    const core = createCore({ db, imagesDir: join(temp.dir, 'images') });
    const reference = new Timings();
    const ours = new Timings();
    let expected: { sha256: string; size: number } | null = null;
    for (let round = 0; round < rounds; round++) {
      // Both read the archive from the page cache; dirty pages of the previous round are written back first.
      spawnSync('sync');
      reference.add(await shell('xz -dc "$1" | zstd -3 -q -c > /dev/null', [archive.path]));

      spawnSync('sync');
      const started = performance.now();
      const image = await core.images.registerFile({ product_type: 'KXP2', version: `bench-${round}` }, archive.path);
      ours.add(performance.now() - started);
      if (image.source_format !== 'xz') throw new Error(`registered as ${image.source_format}, not xz`);
      if (expected && (expected.sha256 !== image.sha256 || expected.size !== image.size_bytes)) throw new Error('two registrations of one file differ');
      expected = { sha256: image.sha256, size: image.size_bytes };
      await core.images.delete(image.id);
    }
    const bytes = expected!.size;
    row('xz -dc | zstd -3 (raw MiB/s)', mibPerSecond(bytes, reference.median), `best ${mibPerSecond(bytes, reference.best)}; ${(reference.median / 1000).toFixed(1)} s`);
    row('Pitcrew registration of the .img.xz', mibPerSecond(bytes, ours.median), [
      `best ${mibPerSecond(bytes, ours.best)}`,
      `${(ours.median / 1000).toFixed(1)} s`,
      ratio(reference.median, ours.median, 'xz -dc | zstd -3'),
    ].join('; '));
    console.log(`  peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (xz's own memory not included)`);
  } finally {
    db.close();
    temp.remove();
  }
}
