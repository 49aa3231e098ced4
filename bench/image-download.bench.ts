// Image download throughput: Pitcrew's GET /images/{filename} (its own process) against nginx serving the same
// file from the same page cache, with 1 and 16 concurrent curl clients, plus the server's peak memory.
// Target: at 16 clients at least as fast as nginx, peak RSS under 150 MiB. The servers take turns; medians are
// compared, bests shown beside them. PITCREW_BENCH_IMAGE_MIB sets the size (default 2048), PITCREW_BENCH_ROUNDS the
// rounds (default 1).
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createCore } from '../src/core/index.js';
import { openDatabase } from '../src/db/database.js';
import { generatedFile, memoryOf, resetPeakMemory } from '../src/server/device/test-support/image-http.js';
import { spawnServer } from '../src/server/device/test-support/image-server.js';
import { NGINX, nginxPeakMemory, startNginx } from './nginx-server.js';
import { envNumber, gibPerSecond, hasCommand, ratio, row, tempDir, Timings } from './support.js';

const MIB = 1 << 20;

/** `clients` curl processes each download the whole file at once; answers total bytes and wall time. */
async function downloadWith(url: string, clients: number, expectedBytes: number): Promise<number> {
  const started = performance.now();
  const sizes = await Promise.all(
    Array.from({ length: clients }, () =>
      new Promise<number>((resolve, reject) => {
        const curl = spawn('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        curl.on('close', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`curl exited with ${code} for ${url}`))));
      })),
  );
  const elapsed = performance.now() - started;
  for (const size of sizes) if (size !== expectedBytes) throw new Error(`a client received ${size} bytes instead of ${expectedBytes}`);
  return elapsed;
}

export default async function benchImageDownload(): Promise<void> {
  if (!hasCommand('curl')) {
    console.log('  skipped: curl is not installed (apt-get install curl)');
    return;
  }
  const mib = envNumber('PITCREW_BENCH_IMAGE_MIB', 2048);
  const rounds = envNumber('PITCREW_BENCH_ROUNDS', 1);
  const temp = tempDir('download');
  const dataDir = join(temp.dir, 'data');
  try {
    // The image goes into the store the way an upload does (streamed, hashed, synced), then the server starts.
    const db = openDatabase(join(dataDir, 'pitcrew.db'));
    const core = createCore({ db, imagesDir: join(dataDir, 'images') });
    const generated = generatedFile(mib);
    const image = await core.images.upload({ product_type: 'KXP2', version: '1.0.0' }, 'bench.img', Readable.from(generated.chunks()));
    db.close();
    // The store writes images straight to the disk, past the page cache; both servers are measured serving from
    // the cache, so the file is read once first.
    for await (const _chunk of createReadStream(join(dataDir, 'images', image.filename), { highWaterMark: MIB }));
    const size = image.size_bytes;
    console.log(`  ${mib} MiB image, ${rounds} round(s) taking turns, medians (and bests); clients are curl processes writing to /dev/null`);

    const pitcrew = await spawnServer({ dataDir, logLevel: 'warn' });
    if (!pitcrew.built) console.log('  (server run from the sources through tsx: `npm run build` first for the built server\'s memory figures)');
    const nginx = NGINX ? await startNginx(join(dataDir, 'images'), join(temp.dir, 'nginx')) : null;
    if (!nginx) console.log('  nginx: not installed, so no reference figures (apt-get install nginx)');
    try {
      const pid = pitcrew.child.pid!;
      const baseline = memoryOf(pid).current;
      const canReset = resetPeakMemory(pid);
      for (const clients of [1, 16]) {
        const ours = new Timings();
        const theirs = new Timings();
        for (let round = 0; round < rounds; round++) {
          ours.add(await downloadWith(`${pitcrew.deviceUrl}/images/${image.filename}`, clients, size));
          if (nginx) theirs.add(await downloadWith(`${nginx.url}/${image.filename}`, clients, size));
        }
        const bytes = size * clients;
        const label = `${clients} client${clients > 1 ? 's' : ''}`;
        if (nginx) row(`nginx (sendfile), ${label}`, gibPerSecond(bytes, theirs.median), `best ${gibPerSecond(bytes, theirs.best)}`);
        row(`Pitcrew, ${label}`, gibPerSecond(bytes, ours.median), [`best ${gibPerSecond(bytes, ours.best)}`, nginx ? ratio(theirs.median, ours.median, 'nginx') : ''].filter(Boolean).join('; '));
      }
      const peak = canReset ? memoryOf(pid).peak : memoryOf(pid).current;
      row('Pitcrew peak RSS (whole process)', `${(peak / MIB).toFixed(0)} MiB`, `idle ${(baseline / MIB).toFixed(0)} MiB; target < 150 MiB`);
      if (nginx) row('nginx peak RSS (master + workers)', `${(nginxPeakMemory(nginx.pid) / MIB).toFixed(0)} MiB`);
    } finally {
      await pitcrew.stop();
      await nginx?.stop();
    }
  } finally {
    temp.remove();
  }
}
