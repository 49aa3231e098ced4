// Image upload throughput: Pitcrew's POST /api/images/upload (multipart, hashed, synced, registered) against
// nginx's WebDAV PUT of the same file and against `sha256sum` reading it. nginx answers before its file is on disk,
// Pitcrew only once the image is durable, so nginx is also timed up to a `sync` after its answer. Clients are curl
// streaming the file from disk (`curl -F image=@…`, `curl -T …`), never loading it first. Target: at least as fast
// as nginx's PUT.
//
// The two servers take turns, round after round, because on a shared machine either one's figure moves by a factor
// of two from one minute to the next; medians are compared, bests shown beside them. PITCREW_BENCH_IMAGE_MIB sets
// the size (default 2048), PITCREW_BENCH_ROUNDS the rounds (default 3).
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, resetPeakMemory } from '../src/server/device/test-support/image-http.js';
import { spawnServer } from '../src/server/device/test-support/image-server.js';
import { NGINX, nginxPeakMemory, startNginx } from './nginx-server.js';
import { envNumber, hasCommand, ratio, row, tempDir, Timings, writeRandomFile } from './support.js';

const MIB = 1 << 20;

function run(command: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  // Dirty pages from the previous upload would otherwise be written back during the next one.
  spawnSync('sync');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - started, stdout }) : reject(new Error(`${command} exited with ${code}`))));
  });
}

const mibPerSecond = (bytes: number, ms: number) => `${(bytes / MIB / (ms / 1000)).toFixed(0)} MiB/s`;

/** Median throughput, with the best beside it. */
const rates = (bytes: number, timings: Timings): [string, string] => [mibPerSecond(bytes, timings.median), `best ${mibPerSecond(bytes, timings.best)}`];

export default async function benchImageUpload(): Promise<void> {
  if (!hasCommand('curl')) {
    console.log('  skipped: curl is not installed (apt-get install curl)');
    return;
  }
  const mib = envNumber('PITCREW_BENCH_IMAGE_MIB', 2048);
  const rounds = envNumber('PITCREW_BENCH_ROUNDS', 3);
  const temp = tempDir('upload');
  try {
    const file = join(temp.dir, 'master.img');
    await writeRandomFile(file, mib);
    const bytes = mib * MIB;
    console.log(`  ${mib} MiB file (in the page cache), ${rounds} round(s) taking turns, medians (and bests); every upload is synced before the next`);

    const sha256sum = new Timings();
    let expected = '';
    for (let round = 0; round < rounds; round++) {
      const result = await run('sha256sum', [file]);
      sha256sum.add(result.ms);
      expected = result.stdout.split(' ')[0]!;
    }
    const [sha256sumRate, sha256sumBest] = rates(bytes, sha256sum);
    row('sha256sum (reading the file)', sha256sumRate, sha256sumBest);

    if (!NGINX) console.log('  nginx: not installed, so no PUT reference (apt-get install nginx)');
    const davRoot = join(temp.dir, 'dav');
    const nginx = NGINX ? await startNginx(davRoot, join(temp.dir, 'nginx'), { dav: true }) : null;
    const dataDir = join(temp.dir, 'data');
    const pitcrew = await spawnServer({ dataDir, logLevel: 'warn' });
    if (!pitcrew.built) console.log('  (server run from the sources through tsx: `npm run build` first for the built server\'s memory figures)');
    try {
      const pid = pitcrew.child.pid!;
      const idle = memoryOf(pid).current;
      const canReset = resetPeakMemory(pid);
      const put = new Timings();
      const putDurable = new Timings();
      const ours = new Timings();
      for (let round = 0; round < rounds; round++) {
        if (nginx) {
          const result = await run('curl', ['-sS', '--fail', '-o', '/dev/null', '-T', file, `${nginx.url}/upload-${round}.img`]);
          const answered = performance.now();
          spawnSync('sync');
          put.add(result.ms);
          putDurable.add(result.ms + performance.now() - answered);
          rmSync(join(davRoot, `upload-${round}.img`), { force: true });
        }
        const result = await run('curl', ['-sS', '--fail', '-H', `Cookie: ${pitcrew.cookie}`, '-F', 'product_type=KXP2', '-F', `version=bench-${round}`, '-F', `image=@${file}`, `${pitcrew.managementUrl}/api/images/upload`]);
        ours.add(result.ms);
        const answer = JSON.parse(result.stdout) as { checksum: string; filename: string };
        if (answer.checksum !== expected) throw new Error(`upload checksum ${answer.checksum} differs from sha256sum ${expected}`);
        rmSync(join(dataDir, 'images', answer.filename), { force: true });
      }
      const peak = canReset ? memoryOf(pid).peak : memoryOf(pid).current;
      if (nginx) {
        const [rate, best] = rates(bytes, put);
        row('nginx WebDAV PUT (curl -T)', rate, `${best}; ${ratio(sha256sum.median, put.median, 'sha256sum')}`);
        const [durableRate, durableBest] = rates(bytes, putDurable);
        row('nginx WebDAV PUT, then sync (durable)', durableRate, durableBest);
        row('nginx peak RSS (master + workers)', `${(nginxPeakMemory(nginx.pid) / MIB).toFixed(0)} MiB`);
      }
      const [rate, best] = rates(bytes, ours);
      row('Pitcrew upload (curl -F, hash + fsync + register)', rate, [
        best,
        nginx ? ratio(put.median, ours.median, 'nginx PUT') : '',
        nginx ? ratio(putDurable.median, ours.median, 'nginx PUT + sync') : '',
        ratio(sha256sum.median, ours.median, 'sha256sum'),
      ].filter(Boolean).join('; '));
      row('Pitcrew peak RSS (whole process)', `${(peak / MIB).toFixed(0)} MiB`, `idle ${(idle / MIB).toFixed(0)} MiB`);
    } finally {
      await pitcrew.stop();
      await nginx?.stop();
    }
  } finally {
    temp.remove();
  }
}
