import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../db/database.js';
import { dataPaths } from '../../db/data-dir.js';
import type { AccountsService } from '../../core/accounts.service.js';
import { createCore } from '../../core/index.js';
import { registerUserCommands } from './users.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-users-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs one command in-process, with `input` as standard input; answers what it printed, or the error it threw. */
async function pitcrew(args: string[], input = '') {
  const program = new Command('pitcrew').option('--data-dir <dir>').exitOverride().enablePositionalOptions();
  registerUserCommands(program, Readable.from([input]));
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  try {
    await program.parseAsync(['--data-dir', dir, ...args], { from: 'user' });
    return { stdout: out.join(''), stderr: err.join(''), error: null as Error | null };
  } catch (error) {
    return { stdout: out.join(''), stderr: err.join(''), error: error as Error };
  } finally {
    vi.restoreAllMocks();
  }
}

const withAccounts = async <T>(work: (accounts: AccountsService) => T | Promise<T>) => {
  const paths = dataPaths(dir);
  const db = openDatabase(paths.database);
  try {
    return await work(createCore({ db, imagesDir: paths.images }).accounts);
  } finally {
    db.close();
  }
};

describe('pitcrew user and token commands', () => {
  it('adds a user with the password from standard input, and issues, lists and revokes a token for them', async () => {
    const added = await pitcrew(['user', 'add', 'Dana', '--role', 'VIEWER'], 'dana-secret-1\nignored\n');
    expect(added.error).toBeNull();
    expect(added.stdout).toContain('Created viewer Dana.');
    await withAccounts(async (accounts) => expect((await accounts.verifyLogin('dana', 'dana-secret-1')).role).toBe('viewer'));

    const created = await pitcrew(['token', 'create', 'scraper', '--user', 'dana']);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^pct_[A-Za-z0-9_-]{32}$/);
    expect(created.stderr).toMatch(/for Dana \(viewer\)\. The secret is shown once/);
    await withAccounts((accounts) => expect(accounts.findTokenUser(secret)?.user.username).toBe('Dana'));

    const listed = await pitcrew(['token', 'list']);
    expect(listed.stdout).toMatch(/scraper\s+Dana\s+pct_/);
    expect(listed.stdout).not.toContain(secret);
    expect((await pitcrew(['token', 'revoke', '1'])).stdout).toContain('Revoked token 1');
    await withAccounts((accounts) => {
      expect(accounts.findTokenUser(secret)).toBeUndefined();
      const audit = accounts.listAudit(1, 10).items;
      expect(audit.map((e) => e.action)).toEqual(['token.revoke', 'token.create', 'user.create']);
      expect(audit[0]!.actor).toMatch(/^cli/);
    });
  });

  it('changes a password and a role, refuses bad input with a clear message, and never removes the last admin', async () => {
    await withAccounts((accounts) => accounts.createUser({ username: 'admin', password: 'admin-pass-1', role: 'admin' }));
    expect((await pitcrew(['user', 'passwd', 'admin'], 'admin-pass-2\n')).stdout).toContain('Changed the password of admin.');
    await withAccounts(async (accounts) => expect((await accounts.verifyLogin('admin', 'admin-pass-2')).username).toBe('admin'));

    expect((await pitcrew(['user', 'add', 'erin'], 'short\n')).error?.message).toBe('A password needs at least 8 characters.');
    expect((await pitcrew(['user', 'add', 'erin'], '')).error?.message).toMatch(/No password on standard input/);
    expect((await pitcrew(['user', 'add', 'erin', '--role', 'root'], 'long-enough-1\n')).error?.message).toMatch(/Role must be one of admin, operator, viewer/);
    expect((await pitcrew(['user', 'add', 'erin'], 'long-enough-1\n')).stdout).toContain('Created operator erin.');
    expect((await pitcrew(['user', 'role', 'erin', 'admin'])).stdout).toContain('erin is now admin.');
    expect((await pitcrew(['user', 'remove', 'ghost'])).error?.message).toBe('There is no user ghost.');
    expect((await pitcrew(['user', 'remove', 'erin'])).stdout).toContain('Removed erin.');
    expect((await pitcrew(['user', 'remove', 'admin'])).error?.message).toMatch(/admin is the last admin and cannot be removed/);
    expect((await pitcrew(['user', 'list'])).stdout).toMatch(/1\s+admin\s+admin/);
  });

  it('is wired into the pitcrew command, reading a script’s standard input', () => {
    const main = fileURLToPath(new URL('../main.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', main, '--data-dir', dir, 'user', 'add', 'ops', '--role', 'operator'], { input: 'ops-password-1\n', encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Created operator ops.');
    expect(result.status).toBe(0);
  });
});
