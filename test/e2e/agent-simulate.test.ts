// `pitcrew simulate` against the real server: a small fleet with injected faults ends exactly as planned, and
// the server's deployment list shows every simulated board.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { planFleet } from '../../src/agent/fleet.simulator.js';
import { createVenueWithKarts, listDeployments, registerActiveImage, useAgentE2e } from '../../src/agent/test-support/agent-e2e.harness.js';
import { runCli } from '../../src/cli/program.js';

// `pitcrew simulate` runs the installer in-process: no bundle.
const e2e = useAgentE2e('pitcrew-simulate-e2e-', { bundle: false, image: { flavour: 'rpi-preseed' } });
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `pitcrew …` in-process and captures what it prints. */
async function pitcrew(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await runCli(['node', 'pitcrew', ...args]);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

/** A seed whose fleet of `n` has at least one clean, one corrupted and one cut device. */
function seedWithEveryFault(n: number): string {
  for (let i = 0; ; i++) {
    const seed = `e2e-${i}`;
    const faults = new Set(planFleet({ devices: n, seed, failRate: 0.5, failMode: 'mixed' }).map((d) => d.fault));
    if (faults.size === 3) return seed;
  }
}

describe('pitcrew simulate', () => {
  it('runs a fleet with file-backed disks and injected faults to the planned outcome', async () => {
    const { dir, image, server: t } = e2e;
    await createVenueWithKarts(t, 'CORO', '1-20');
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.11.1');
    const wire = registered.delivery!.compressed_bytes;
    const seed = seedWithEveryFault(5);
    const plan = planFleet({ devices: 5, seed, failRate: 0.5, failMode: 'mixed' });
    const diskDir = join(dir, 'fleet-disks');
    await mkdir(diskDir);

    const run = await pitcrew('simulate', '--devices', '5', '--server', t.deviceUrl, '--product-type', 'kxp2', '--venue', 'coro', '--disk-dir', diskDir, '--fail-rate', '0.5', '--seed', seed, '--json');
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    const corrupt = plan.filter((d) => d.fault === 'corrupt').length;
    expect(summary).toMatchObject({ devices: 5, completed: 5 - corrupt, failed: corrupt, expectedFailures: corrupt, unexpected: 0 });
    // Image delivery v2: each device receives the compressed chunks (a cut one twice, in part), not the raw image.
    expect(summary.totalBytes).toBeGreaterThanOrEqual(5 * wire);
    expect(summary.totalBytes).toBeLessThan(5 * wire + 2 * (4 << 20));
    expect(summary.resumes).toBeGreaterThanOrEqual(plan.filter((d) => d.fault === 'cut').length);
    expect(await readdir(diskDir)).toEqual([]);

    const deployments = await listDeployments(t, { limit: '50' });
    expect(deployments).toHaveLength(5);
    expect(new Set(deployments.map((d) => d.hostname))).toEqual(new Set(['KXP2-CORO-001', 'KXP2-CORO-002', 'KXP2-CORO-003', 'KXP2-CORO-004', 'KXP2-CORO-005']));
    for (const device of plan) {
      const deployment = deployments.find((d) => d.serial_number === device.serial);
      expect(deployment, device.serial).toBeDefined();
      expect(deployment!.mac_address).toBe(device.mac);
      if (device.fault === 'corrupt') {
        expect(deployment).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/^the card failed verification at offset \d+/) });
      } else {
        expect(deployment).toMatchObject({ status: 'completed', progress: 100 });
      }
    }
  });

  it('drives a large fleet through hashing sinks, naming RXP2 boards after their serials', async () => {
    const { image, server: t } = e2e;
    await createVenueWithKarts(t, 'ARIA', '1');
    const registered = await registerActiveImage(t, image.path, 'RXP2', '7.0.0');
    const run = await pitcrew('simulate', '--devices', '8', '--server', t.deviceUrl, '--product-type', 'RXP2', '--venue', 'ARIA', '--sink', '--seed', 'sinks', '--no-table');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Simulated 8 device\(s\): 8 completed, 0 failed\./);
    // 8 × the image's compressed chunks, not 8 × its 60 MiB.
    const transferred = /Fleet makespan \d+\.\d s; ([\d.]+) (KiB|MiB) transferred, .+\/s aggregate\./.exec(run.stdout);
    expect(transferred, run.stdout).not.toBeNull();
    const bytes = Number(transferred![1]) * (transferred![2] === 'KiB' ? 1024 : 1 << 20);
    expect(bytes / (8 * registered.delivery!.compressed_bytes)).toBeCloseTo(1, 1);
    const deployments = await listDeployments(t, { limit: '50' });
    const expected = planFleet({ devices: 8, seed: 'sinks' }).map((d) => `RXP2-ARIA-${d.serial.slice(-8).toUpperCase()}`);
    expect(deployments.map((d) => d.hostname).sort()).toEqual(expected.sort());
    expect(deployments.every((d) => d.status === 'completed')).toBe(true);
  });

  it('reports a fleet that cannot be served and exits non-zero', async () => {
    const t = e2e.server;
    const run = await pitcrew('simulate', '--devices', '2', '--server', t.deviceUrl, '--product-type', 'KXP2', '--venue', 'NONE', '--sink', '--seed', 'refused');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/0 completed, 2 failed/);
    expect(run.stdout).toMatch(/the server refused a configuration/);
    expect(run.stdout).toMatch(/2 device\(s\) did not end as planned/);
  });

  it('refuses bad options', async () => {
    const { dir, server: t } = e2e;
    expect((await pitcrew('simulate', '--devices', '0', '--server', t.deviceUrl)).stderr).toMatch(/--devices.*whole number from 1/);
    expect((await pitcrew('simulate', '--devices', '2', '--server', 'not a url')).stderr).toMatch(/http\(s\) URL/);
    expect((await pitcrew('simulate', '--devices', '2', '--server', t.deviceUrl, '--fail-rate', '2')).stderr).toMatch(/from 0 to 1/);
    expect((await pitcrew('simulate', '--devices', '2', '--server', t.deviceUrl, '--product-type', 'xyz')).stderr).toMatch(/expected KXP2 or RXP2/);
    const both = await pitcrew('simulate', '--devices', '2', '--server', t.deviceUrl, '--sink', '--disk-dir', dir);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/--sink and --disk-dir exclude each other/);
    expect((await pitcrew('simulate', '--server', t.deviceUrl)).stderr).toMatch(/required option '--devices <n>'/);
  });
});
