// A separate process with its own SQLite connection that asks for hostnames, used by the concurrency test and
// the assignment benchmark. Reads a JSON job from argv, waits for "go" on stdin so all workers start together,
// and prints one JSON result line.
import { createInterface } from 'node:readline';
import { isAppError } from '../../contracts/errors.js';
import { openDatabase } from '../../db/database.js';
import { createCore } from '../index.js';

export interface AssignJob {
  database: string;
  imagesDir: string;
  serials: string[];
  /** config: the device path (batch or venue); pool: manual assignment from a venue; raw: plain SQL claim. */
  mode: 'config' | 'pool' | 'raw';
  venue?: string;
}

export interface AssignResult {
  assigned: Array<{ serial: string; hostname: string; reused: boolean }>;
  errors: Record<string, number>;
  elapsed_ms: number;
}

const job = JSON.parse(process.argv[2]!) as AssignJob;
const db = openDatabase(job.database, { migrate: false });
const core = createCore({ db, imagesDir: job.imagesDir });
const rawClaim = db.prepare<[string, string], { hostname: string }>(`
  UPDATE hostnames SET status = 'assigned', serial_number = ?, assigned_at = strftime('%Y-%m-%dT%H:%M:%fZ')
   WHERE id = (SELECT id FROM hostnames WHERE venue_code = ? AND product_type = 'KXP2' AND status = 'available' ORDER BY kart_number LIMIT 1)
  RETURNING hostname`);
const rawAssign = db.transaction((serial: string) => rawClaim.get(serial, job.venue!));

function assignOne(serial: string): { hostname: string; reused: boolean } | undefined {
  switch (job.mode) {
    case 'config': {
      const config = core.deployments.requestConfig({ serial_number: serial }, null);
      return { hostname: config.deployment.hostname, reused: config.reused };
    }
    case 'pool': {
      const result = core.pool.assign({ venue_code: job.venue!, product_type: 'KXP2', serial_number: serial });
      return { hostname: result.entry.hostname, reused: result.reused };
    }
    case 'raw': {
      const row = rawAssign.immediate(serial);
      return row && { hostname: row.hostname, reused: false };
    }
  }
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  const result: AssignResult = { assigned: [], errors: {}, elapsed_ms: 0 };
  const started = performance.now();
  for (const serial of job.serials) {
    try {
      const assigned = assignOne(serial);
      if (assigned) result.assigned.push({ serial, ...assigned });
      else result.errors.EXHAUSTED = (result.errors.EXHAUSTED ?? 0) + 1;
    } catch (error) {
      if (!isAppError(error)) throw error;
      result.errors[error.code] = (result.errors[error.code] ?? 0) + 1;
    }
  }
  result.elapsed_ms = performance.now() - started;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  break;
}
lines.close();
db.close();
