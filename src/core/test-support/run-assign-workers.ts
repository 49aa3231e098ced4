// Starts assign-worker processes, releases them at once, and collects their results.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AssignJob, AssignResult } from './assign-worker.js';

const WORKER = fileURLToPath(new URL('./assign-worker.ts', import.meta.url));

export async function runAssignWorkers(jobs: AssignJob[]): Promise<AssignResult[]> {
  const workers = jobs.map((job) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const next = () =>
      new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`assign worker exited with ${code}`)));
      });
    return { child, next };
  });
  await Promise.all(workers.map(async (w) => expect('ready', await w.next())));
  const results = workers.map((w) => w.next());
  for (const w of workers) w.child.stdin.end('go\n');
  return Promise.all(results.map(async (line) => JSON.parse(await line) as AssignResult));
}

function expect(wanted: string, got: string): void {
  if (got !== wanted) throw new Error(`assign worker said "${got}", expected "${wanted}"`);
}
