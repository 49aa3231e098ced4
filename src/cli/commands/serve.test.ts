import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-serve-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('pitcrew serve', () => {
  it('refuses to start on a bad setting, naming the flag or variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--data-dir', dir, '--port', 'abc'], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, PITCREW_STALE_MINUTES: '0' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--port="abc": must be a TCP port');
    expect(result.stderr).toContain('PITCREW_STALE_MINUTES="0"');
  });

  it.each([
    ['the --netboot switch', ['--netboot'], {}],
    ['PITCREW_NETBOOT=1', [], { PITCREW_NETBOOT: '1' }],
  ])('runs network boot when asked by %s, and will not start without its configuration', (_how, flags, env) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--data-dir', dir, '--port', '0', '--device-port', '0', ...flags], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('run `pitcrew netboot config` first');
  });

  it('refuses a PITCREW_NETBOOT that is neither on nor off', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--data-dir', dir], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PITCREW_NETBOOT: 'maybe' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PITCREW_NETBOOT="maybe": must be 1 or 0');
  });

  it('starts both listeners, prints the first admin password once, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--data-dir', dir, '--port', '0', '--device-port', '0', '--host', '127.0.0.1', '--device-host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PITCREW_LOG_LEVEL: 'info', PITCREW_ADMIN_PASSWORD: '' },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let password: string | null = null;
      let listening: { management: string; device: string } | null = null;
      for await (const line of createInterface({ input: child.stdout })) {
        const shown = /^ {6}(\S{16})$/.exec(line);
        if (shown) password = shown[1]!;
        if (line.includes('Pitcrew is listening')) {
          listening = JSON.parse(line) as { management: string; device: string };
          break;
        }
      }
      expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
      const login = await fetch(`${listening!.management}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      expect(login.status).toBe(200);
      expect((await fetch(`${listening!.device}/health`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
