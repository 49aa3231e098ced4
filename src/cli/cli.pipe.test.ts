// The `pitcrew` command as scripts use it: its output piped into a reader that stops early (`| head -1`), and the
// simulator's fleet sharing one stop signal. Both must stay quiet: no stack trace, no Node warning.
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { createVenueWithKarts, registerActiveImage, startTestServer, type TestServer } from '../agent/test-support/agent-e2e.harness.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
// tsx resolves from the repository.
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PITCREW = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(MAIN)}`;

/** Runs a bash pipeline; answers what came out of its end, the CLI's stderr and the CLI's exit status. */
function pipeline(command: string): Promise<{ stdout: string; stderr: string; cliStatus: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${command}; echo "\${PIPESTATUS[0]}" >&3`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let status = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (text: string) => (status += text));
    child.once('error', reject);
    child.once('close', () => resolve({ stdout, stderr, cliStatus: Number(status.trim()) }));
  });
}

describe('pitcrew on a pipe', () => {
  let dir: string;
  let dataDir: string;
  const err = () => join(dir, 'cli.err');

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-cli-pipe-');
    dataDir = join(dir, 'data');
    // A database with enough history that the CSV is far larger than a pipe's buffer.
    await new Promise<void>((resolve, reject) => execFile(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dataDir, 'venue', 'create', 'CORO', 'Coronado'], (error) => (error ? reject(error) : resolve())));
    const db = new Database(join(dataDir, 'pitcrew.db'));
    const insert = db.prepare(
      `INSERT INTO deployments (hostname, serial_number, product_type, venue_code, status, progress, started_at, updated_at, completed_at)
       VALUES (?, ?, 'KXP2', 'CORO', 'completed', 100, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
        insert.run(`KXP2-CORO-${String(i % 999).padStart(3, '0')}`, `10000000${i.toString(16).padStart(8, '0')}`, at, at, at);
      }
    })();
    db.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('`deployments --csv | head -1` prints the header and exits quietly', async () => {
    const run = await pipeline(`${PITCREW} --data-dir ${dataDir} deployments --csv 2>${err()} | head -1; cat ${err()} >&2`);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^id,hostname,/);
    expect(run.stdout.split('\n')).toHaveLength(2);
    expect(run.cliStatus).toBe(0);
  });

  it('`deployments | head -1` (the table) exits quietly as well', async () => {
    const run = await pipeline(`${PITCREW} --data-dir ${dataDir} deployments --limit 500 2>${err()} | head -1; cat ${err()} >&2`);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^ID\s+HOSTNAME\s+STATUS/);
    expect(run.cliStatus).toBe(0);
  });

  describe('simulate', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer();
      const work = join(dir, 'simulate');
      await mkdir(work);
      const image = await buildDiskImage(work, { flavour: 'rpi-preseed' });
      await createVenueWithKarts(t, 'CORO', '1-40');
      await registerActiveImage(t, image.path, 'KXP2', '2025.11.1');
    });
    afterAll(async () => {
      await t?.close();
    });

    it('runs a fleet larger than ten devices without a MaxListenersExceededWarning', async () => {
      const run = await pipeline(`${PITCREW} simulate --devices 16 --server ${t.deviceUrl} --product-type KXP2 --venue CORO --sink --json`);
      expect(run.stderr).toBe('');
      expect(run.cliStatus).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ devices: 16, completed: 16, unexpected: 0 });
    });

    it('prints its progress lines into `| head -1` and exits quietly', async () => {
      const run = await pipeline(`${PITCREW} simulate --devices 12 --server ${t.deviceUrl} --product-type KXP2 --venue CORO --sink 2>${err()} | head -1; cat ${err()} >&2`);
      expect(run.stderr).toBe('');
      expect(run.stdout.split('\n')).toHaveLength(2);
      expect(run.cliStatus).toBe(0);
    });
  });
});
