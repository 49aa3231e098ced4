import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from './program.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Runs the CLI in this process, capturing what it prints. */
async function runInProcess(args: string[]) {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    const code = await runCli(['node', 'pitcrew', ...args]);
    return { code, out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

describe('pitcrew CLI', () => {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) => runInProcess(['--data-dir', join(dir, 'data'), ...args]);

  it('exits with status 1 and one line on stderr as a real process', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', join(dir, 'data'), 'venue', 'show', 'NOPE'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('pitcrew: There is no venue NOPE.\n');
    const ok = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', join(dir, 'data'), 'venue', 'list'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
  });

  it('runs a venue from creation to a started batch', async () => {
    expect(await run('venue', 'create', 'coro', 'Coronado Raceway', '--email', 'ops@coro.example')).toMatchObject({ code: 0, out: 'Created venue CORO (Coronado Raceway).\n' });
    expect((await run('kart-import', 'CORO', '1-20, 25', '30-32')).out).toBe('Added 24 kart numbers to CORO.\n');
    expect((await run('kart-import', 'CORO', '1-3')).out).toBe('Added 0 kart numbers to CORO, skipped 3 duplicates.\n');
    expect((await run('batch', 'create', 'CORO', 'kxp2', '10', '--priority', '-3')).out).toMatch(/^Created batch 1: 10 × KXP2 at CORO, priority -3/);
    expect((await run('batch', 'start', '1')).out).toBe('Batch 1 is now active.\n');
    const list = await run('batch', 'list', '--status', 'ACTIVE');
    expect(list.out.split('\n')[1]).toMatch(/^1\s+CORO\s+KXP2\s+active\s+-3\s+10\s+10/);
    expect((await run('venue', 'show', 'coro')).out).toMatch(/kart_numbers_unreserved\s+14/);
    expect((await run('pool', 'list', '--venue', 'CORO', '--limit', '2')).out).toMatch(/KXP2-CORO-001[\s\S]*\(2 of 24; use --limit\)/);

    // Changes from the shell are audited like any other, under the OS user running the command.
    const db = new Database(join(dir, 'data', 'pitcrew.db'), { readonly: true });
    const audit = db.prepare('SELECT actor, action, target FROM audit_log ORDER BY id').all();
    db.close();
    const actor = `cli:${userInfo().username}`;
    expect(audit).toEqual([
      { actor, action: 'venue.create', target: 'CORO' },
      { actor, action: 'pool.import', target: 'CORO' },
      { actor, action: 'pool.import', target: 'CORO' },
      { actor, action: 'batch.create', target: '1' },
      { actor, action: 'batch.start', target: '1' },
    ]);
  });

  it.each([
    [['venue', 'create', 'CO', 'x'], /^pitcrew: Venue code "CO" must be exactly 4 letters or digits/],
    [['kart-import', 'NOPE', '1'], /^pitcrew: There is no venue NOPE\.$/],
    [['batch', 'start', 'abc'], /^pitcrew: batch id must be a positive whole number, not "abc"\.$/],
    [['batch', 'create', 'CORO', 'KXP2', '0'], /^pitcrew: count must be a whole number from 1 to 100000, not "0"\.$/],
    [['batch', 'priority', '1', '1e3'], /^pitcrew: priority must be a whole number from -1000000 to 1000000, not "1e3"\.$/],
    [['pool', 'list', '--limit', 'lots'], /^pitcrew: --limit must be a whole number from 1 to 500, not "lots"\.$/],
    [['batch', 'list', '--status', 'sleeping'], /status must be one of pending, active, paused, completed, cancelled/],
    [['image', 'activate', '9'], /^pitcrew: There is no image 9\.$/],
    [['deployments', '--from', '2026-02-30'], /^pitcrew: "2026-02-30" is not a date/],
    [['nonsense'], /unknown command 'nonsense'/],
  ])('%j fails with one clear line and exit code 1', async (args, message) => {
    const result = await run(...args);
    expect(result.code).toBe(1);
    expect(result.err.trim()).toMatch(message);
    expect(result.err).not.toMatch(/\n\s+at /);
  });

  it('refuses an invalid import as a whole, naming the bad tokens', async () => {
    await run('venue', 'create', 'CORO', 'Coronado');
    const result = await run('kart-import', 'CORO', '1-5, x, 30-20');
    expect(result).toMatchObject({ code: 1, err: 'pitcrew: Nothing was imported: these entries are not kart numbers 1–9999 or ranges like 1-20 (low to high): "x", "30-20"\n' });
    expect((await run('pool', 'list')).out).toBe('No hostnames match.\n');
  });

  it('registers an image with its SHA-256, activates it, and lists it', async () => {
    const file = join(dir, 'master.img');
    const content = tinyDiskImage(Buffer.alloc((3 << 20) - 512, 5));
    writeFileSync(file, content);
    const added = await run('image', 'add', file, '--product', 'rxp2', '--version', '3.1.0', '--activate');
    const sha = createHash('sha256').update(content).digest('hex');
    expect(added.code).toBe(0);
    expect(added.out).toContain(`sha256 ${sha}`);
    expect(added.out).toContain('is now the active RXP2 image');
    // No filesystem in its one partition: the partition is sent whole, and 3 MiB of one byte compresses to almost nothing.
    expect(added.out).toMatch(/Each device is sent [\d.]+ (B|KiB) \([\d.]+x less than the raw image\) in 1 chunk and writes 3\.0 MiB \(100 % of the disk\); block map from the filesystems:\n {2}p1 type 0x83: no FAT or ext2\/3\/4 filesystem recognised, sent whole/);
    expect((await run('image', 'list')).out).toMatch(new RegExp(`1\\s+RXP2\\s+3\\.1\\.0\\s+yes\\s+3\\.0 MiB\\s+[\\d.]+ (B|KiB) \\([\\d.]+x less\\)\\s+${sha}`));
    expect(await run('image', 'add', file, '--product', 'RXP2', '--version', '3.1.0')).toMatchObject({ code: 1, err: 'pitcrew: RXP2 version 3.1.0 already exists; choose a new version.\n' });
  });

  it('registers a .img.xz as its raw disk, and refuses a cut-off one in one line', async () => {
    const content = tinyDiskImage(Buffer.alloc((3 << 20) - 512, 7));
    content.write('not just sevens', 1 << 20);
    writeFileSync(join(dir, 'raspios.img'), content);
    expect(spawnSync('xz', ['-T0', '-k', join(dir, 'raspios.img')]).status).toBe(0);
    const added = await run('image', 'add', join(dir, 'raspios.img.xz'), '--product', 'KXP2', '--version', '4.0');
    const sha = createHash('sha256').update(content).digest('hex');
    expect(added.code).toBe(0);
    expect(added.out).toMatch(new RegExp(`^Registered KXP2 4\\.0 as image 1: kxp2_v4\\.0_raspios\\.img, 3\\.0 MiB \\(from a [\\d.]+ [KM]?i?B \\.img\\.xz\\), sha256 ${sha}\nEach device is sent `));
    expect(readFileSync(join(dir, 'data', 'images', 'kxp2_v4.0_raspios.img')).equals(content)).toBe(true);

    const archive = readFileSync(join(dir, 'raspios.img.xz'));
    writeFileSync(join(dir, 'cut.img.xz'), archive.subarray(0, archive.length - 40));
    const cut = await run('image', 'add', join(dir, 'cut.img.xz'), '--product', 'KXP2', '--version', '4.1');
    expect(cut).toMatchObject({ code: 1, err: expect.stringMatching(/^pitcrew: The file is not a valid \.xz archive: Unexpected end of input\. .*\n$/) });
    // Nothing of the refused one (the first image's own files aside).
    expect(readdirSync(join(dir, 'data', 'images')).filter((name) => !name.startsWith('kxp2_v4.0_raspios.img'))).toEqual([]);
  });

  it('refuses to register a file that is not a disk image, in one line, keeping nothing', async () => {
    writeFileSync(join(dir, 'README.txt'), 'KXP2 master image, version 2.1\n');
    const refused = await run('image', 'add', join(dir, 'README.txt'), '--product', 'KXP2', '--version', '5.0');
    expect(refused).toMatchObject({ code: 1, err: expect.stringMatching(/^pitcrew: README\.txt is not a disk image: the image has no partition table \(no MBR signature in its first sector\)\. .*\n$/) });
    expect(readdirSync(join(dir, 'data', 'images')).filter((name) => name.includes('v5.0') || name.startsWith('.'))).toEqual([]);
    expect((await run('image', 'list')).out).not.toMatch(/5\.0/);
  });

  it('backs up the database to a consistent, openable copy and will not overwrite by accident', async () => {
    await run('venue', 'create', 'CORO', 'Coronado');
    const target = join(dir, 'backup.db');
    expect((await run('backup', target)).code).toBe(0);
    const copy = new Database(target, { readonly: true });
    expect(copy.prepare('SELECT code FROM venues').pluck().all()).toEqual(['CORO']);
    copy.close();
    expect(await run('backup', target)).toMatchObject({ code: 1, err: expect.stringMatching(/already exists; choose another name or pass --force/) });
    expect((await run('backup', target, '--force')).code).toBe(0);
  });

  it('shows statistics and exports deployments as CSV', async () => {
    await run('venue', 'create', 'CORO', 'Coronado');
    expect((await run('stats')).out).toMatch(/active_deployments\s+0\ncompleted_today\s+0\nfailed_today\s+0\ntotal_devices\s+0/);
    expect((await run('deployments')).out).toBe('No deployments match.\n');
    expect((await run('deployments', '--csv')).out.split('\r\n')[0]).toMatch(/^id,hostname,status/);
    expect(readFileSync(join(dir, 'data', 'pitcrew.db')).length).toBeGreaterThan(0);
  });
});
