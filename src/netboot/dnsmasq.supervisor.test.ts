import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsmasqSupervisor } from './dnsmasq.supervisor.js';

describe('dnsmasq supervisor', () => {
  let dir: string;
  let supervisor: DnsmasqSupervisor | null = null;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pitcrew-supervisor-')); });
  afterEach(async () => {
    await supervisor?.stop();
    supervisor = null;
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps restarting a dnsmasq that refuses its configuration, with growing pauses, and shows why', async () => {
    const configFile = join(dir, 'broken.conf');
    await writeFile(configFile, 'dhcp-range=nonsense\n');
    supervisor = new DnsmasqSupervisor({ configFile, initialDelayMs: 100, maxDelayMs: 400 });
    const states: string[] = [];
    supervisor.on('state', (status) => states.push(status.state));
    supervisor.start();
    await vi.waitFor(() => expect(supervisor!.status().restarts).toBeGreaterThanOrEqual(4), { timeout: 10_000, interval: 20 });
    const status = supervisor.status();
    expect(status.recent.join('\n')).toMatch(/bad dhcp-range/);
    expect(status.recent.join('\n')).toMatch(/dnsmasq exited with code 1; restarting in 0\.\d s/);
    expect(states).toContain('restarting');
    // Pauses double after each quick death, up to the maximum.
    const pauses = status.recent.flatMap((line) => /restarting in (\d+\.\d) s/.exec(line)?.[1] ?? []).map(Number);
    expect(pauses.slice(0, 4)).toEqual([0.1, 0.2, 0.4, 0.4]);
    expect(Math.max(...pauses)).toBe(0.4);
    await supervisor.stop();
    expect(supervisor.status()).toMatchObject({ state: 'stopped', pid: null });
  });

  it('reports a missing dnsmasq as failed instead of retrying forever', async () => {
    supervisor = new DnsmasqSupervisor({ configFile: join(dir, 'x.conf'), binary: join(dir, 'no-such-dnsmasq'), initialDelayMs: 10 });
    supervisor.start();
    await vi.waitFor(() => expect(supervisor!.status().state).toBe('failed'), { timeout: 5000, interval: 20 });
    expect(supervisor.status().recent.join('\n')).toMatch(/is not installed \(apt-get install dnsmasq-base\)/);
    expect(supervisor.status().restarts).toBe(0);
  });

  it('keeps only the most recent log lines', async () => {
    // A stand-in program that prints many lines and stays up, like dnsmasq logging a busy morning.
    const fake = join(dir, 'chatty');
    await writeFile(fake, '#!/bin/sh\ni=0\nwhile [ $i -lt 120 ]; do echo "dnsmasq-dhcp: line $i" >&2; i=$((i+1)); done\nexec sleep 30\n');
    await chmod(fake, 0o755);
    supervisor = new DnsmasqSupervisor({ configFile: join(dir, 'x.conf'), binary: fake, recentLines: 50, pidRecord: join(dir, 'dnsmasq.pid') });
    supervisor.start();
    await vi.waitFor(() => expect(supervisor!.status().recent.at(-1)).toMatch(/line 119$/), { timeout: 5000, interval: 20 });
    const status = supervisor.status();
    expect(status.recent).toHaveLength(50);
    expect(status.recent[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z dnsmasq-dhcp: line 70$/);
    expect(status.state).toBe('running');
    expect(Number(await readFile(join(dir, 'dnsmasq.pid'), 'utf8'))).toBe(status.pid);
  });

  it('stops a dnsmasq left running by an earlier server before starting its own', async () => {
    const fake = join(dir, 'dnsmasq-fake');
    await writeFile(fake, '#!/usr/bin/env node\nprocess.stdout.write("up\\n");\nsetTimeout(() => {}, 30_000);\n');
    await chmod(fake, 0o755);
    const configFile = join(dir, 'dnsmasq.conf');
    const pidRecord = join(dir, 'dnsmasq.pid');
    // What a crashed server leaves behind: its dnsmasq, still running, and the pid record. Running means past
    // `env`'s exec of node: in between, its command line can read as nothing at all.
    const orphan = spawn(fake, ['--keep-in-foreground', `--conf-file=${configFile}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(orphan.stdout, 'data');
    await writeFile(pidRecord, `${orphan.pid}\n`);
    const orphanExit = once(orphan, 'exit');
    supervisor = new DnsmasqSupervisor({ configFile, binary: fake, pidRecord });
    supervisor.start();
    const [, signal] = await orphanExit;
    expect(signal).toBe('SIGTERM');
    expect(supervisor.status().recent.join('\n')).toMatch(new RegExp(`stopped dnsmasq ${orphan.pid} left over from an earlier run`));
    await vi.waitFor(() => expect(supervisor!.status().state).toBe('running'), { timeout: 5000, interval: 20 });
    expect(supervisor.status().pid).not.toBe(orphan.pid);
  });

  it('leaves alone an unrelated process whose pid happens to be in the record', async () => {
    const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    await once(bystander, 'spawn');
    const pidRecord = join(dir, 'dnsmasq.pid');
    await writeFile(pidRecord, `${bystander.pid}\n`);
    supervisor = new DnsmasqSupervisor({ configFile: join(dir, 'dnsmasq.conf'), binary: join(dir, 'absent'), pidRecord });
    supervisor.start();
    await vi.waitFor(() => expect(supervisor!.status().state).toBe('failed'), { timeout: 5000, interval: 20 });
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    bystander.kill();
  });
});
