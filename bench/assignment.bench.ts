// Hostname assignments per second on one SQLite file: the domain core against a bare SQL claim, with one and
// with 8 processes. Target: the core at least half the raw SQL rate.
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { createCore } from '../src/core/index.js';
import { runAssignWorkers } from '../src/core/test-support/run-assign-workers.js';
import type { AssignJob } from '../src/core/test-support/assign-worker.js';
import { envNumber, ratio, row, tempDir } from './support.js';

const POOL = 9999;

async function measure(workers: number, perWorker: number, mode: AssignJob['mode']): Promise<number> {
  const temp = tempDir('assign');
  try {
    const db = openDatabase(join(temp.dir, 'pitcrew.db'));
    const core = createCore({ db, imagesDir: join(temp.dir, 'images') });
    core.venues.create({ code: 'CORO', name: 'Bench' });
    core.pool.importKartNumbers({ venue_code: 'CORO', numbers: `1-${POOL}` });
    db.close();
    const jobs = Array.from({ length: workers }, (_, w) => ({
      database: join(temp.dir, 'pitcrew.db'),
      imagesDir: join(temp.dir, 'images'),
      serials: Array.from({ length: perWorker }, (_, i) => `b${w}n${i}`),
      mode,
      venue: 'CORO',
    }));
    const started = performance.now();
    const results = await runAssignWorkers(jobs);
    const wall = performance.now() - started;
    const assigned = results.reduce((n, r) => n + r.assigned.length, 0);
    const hostnames = new Set(results.flatMap((r) => r.assigned.map((a) => a.hostname)));
    if (hostnames.size !== assigned) throw new Error(`duplicate hostnames in ${mode} × ${workers}`);
    // Workers take a moment to start; the slowest worker's own loop time is the fair denominator.
    return assigned / (Math.max(...results.map((r) => r.elapsed_ms), 1) / 1000) || assigned / (wall / 1000);
  } finally {
    temp.remove();
  }
}

export default async function benchAssignment(): Promise<void> {
  const total = Math.min(envNumber('PITCREW_BENCH_ASSIGNMENTS', 8000), POOL);
  console.log(`  ${total} assignments from a pool of ${POOL} kart numbers, WAL, synchronous=NORMAL, BEGIN IMMEDIATE`);
  const raw1 = await measure(1, total, 'raw');
  const core1 = await measure(1, total, 'pool');
  const raw8 = await measure(8, Math.floor(total / 8), 'raw');
  const core8 = await measure(8, Math.floor(total / 8), 'pool');
  row('raw SQL claim, 1 process', `${Math.round(raw1)}/s`);
  row('domain core assign, 1 process', `${Math.round(core1)}/s`, ratio(core1, raw1, 'raw'));
  row('raw SQL claim, 8 processes', `${Math.round(raw8)}/s`);
  row('domain core assign, 8 processes', `${Math.round(core8)}/s`, ratio(core8, raw8, 'raw'));
  console.log('  target: domain core ≥ 0.5× raw');
}
