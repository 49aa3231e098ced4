import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** Where the unit expects Pitcrew to be installed. */
const UNIT_INSTALL_DIR = '/opt/pitcrew';

/** The unit's text, its [Service] settings (each with every value given, in order), environment and command. */
function readServiceUnit() {
  const text = readFileSync(new URL('./pitcrew.service', import.meta.url), 'utf8');
  const service = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n').map((raw) => raw.trim())) {
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    const equals = line.indexOf('=');
    if (header) section = header[1]!;
    else if (section === 'Service' && equals > 0) service.set(line.slice(0, equals), [...(service.get(line.slice(0, equals)) ?? []), line.slice(equals + 1)]);
  }
  const environment = Object.fromEntries((service.get('Environment') ?? []).map((assignment) => assignment.split(/=(.*)/s).slice(0, 2)));
  const execStart = (service.get('ExecStart') ?? [''])[0]!.split(/\s+/).filter(Boolean);
  return { text, service, environment: environment as Record<string, string>, execStart };
}

const unit = readServiceUnit();

/** The unit as it would be on a machine where Pitcrew is installed in this checkout and node is this node. */
const installedHere = (text: string) => text.replaceAll(UNIT_INSTALL_DIR, ROOT).replaceAll('/usr/bin/node', process.execPath);
const setting = (key: string) => unit.service.get(key)?.at(-1);

describe('deploy/pitcrew.service', () => {
  let dir: string;
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'pitcrew-unit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // systemd-analyze is a test dependency: `npm test` installs it (as root) or stops naming it.
  it('is a unit systemd accepts without a complaint', () => {
    const path = join(dir, 'pitcrew.service');
    writeFileSync(path, installedHere(unit.text));
    const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect({ status: result.status, messages: result.stderr + result.stdout }).toEqual({ status: 0, messages: '' });
  });

  it('keeps data outside the install, restarts on failure and gives shutdown more time than Pitcrew\'s grace', () => {
    expect(unit.environment.PITCREW_DATA_DIR).toBe('/var/lib/pitcrew');
    expect(setting('Restart')).toBe('on-failure');
    expect(setting('KillSignal')).toBe('SIGTERM');
    expect(setting('StateDirectory')).toBe('pitcrew');
    expect(Number(setting('TimeoutStopSec'))).toBeGreaterThan(loadConfig({}).shutdownGraceSeconds);
  });

  it('starts the server with its own command line and environment, which answers and stops cleanly on its signal', async () => {
    const [program, ...args] = unit.execStart.map(installedHere);
    const child = spawn(program!, args, {
      cwd: installedHere(setting('WorkingDirectory')!),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        PATH: process.env.PATH,
        ...unit.environment,
        // Only what a test must change: a data folder of its own, loopback and ephemeral ports.
        PITCREW_DATA_DIR: join(dir, 'data'),
        PITCREW_HOST: '127.0.0.1',
        PITCREW_DEVICE_HOST: '127.0.0.1',
        PITCREW_PORT: '0',
        PITCREW_DEVICE_PORT: '0',
        PITCREW_ADMIN_PASSWORD: 'unit-test-admin-1',
      },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = await new Promise<{ management: string; device: string }>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the server exited early (${code})`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const entry = JSON.parse(line) as { msg?: string; management?: string; device?: string };
        if (entry.msg === 'Pitcrew is listening') resolve(entry as { management: string; device: string });
      });
    });
    expect((await fetch(`${listening.device}/health`)).status).toBe(200);
    expect((await fetch(`${listening.management}/api/auth/me`)).status).toBe(401);
    const started = Date.now();
    child.kill(setting('KillSignal') as NodeJS.Signals);
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(Number(setting('TimeoutStopSec')) * 1000);
  });
});
