// The installer bundle against the real server onto real block devices (loop devices over files), which behave
// like a card reader or an NVMe drive where a regular file does not: mtools cannot ask them for a geometry, the
// kernel keeps its own idea of their partitions, and their logical sector size may not be 512 bytes. Root only
// (loop devices); without it (a developer's laptop) skipped, CI runs as root and must run it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readKernelPartitions } from '../../src/agent/partition-table.reread.js';
import { checkFilesystems, readBootFile, readRootFile } from '../../src/disk-layout/test-support/disk-image.builder.js';
import {
  apartFromCheckinFiles,
  coroBoardArgs,
  createVenueWithKarts,
  diffDiskWithImage,
  listDeployments,
  registerActiveImage,
  runAgentBundle,
  useAgentE2e,
} from '../../src/agent/test-support/agent-e2e.harness.js';
import { attachLoopDevice, canUseLoopDevices, detachLoopDevice } from '../../src/agent/test-support/loop-device.js';

const run = promisify(execFile);
const MiB = 1 << 20;

const e2e = useAgentE2e('pitcrew-agent-blockdev-', { image: { flavour: 'rpi-preseed' } });
const loops: string[] = [];

beforeEach(async () => {
  await createVenueWithKarts(e2e.server, 'CORO', '7-9');
  await registerActiveImage(e2e.server, e2e.image.path, 'KXP2', '2025.11.1');
});
afterEach(async () => {
  while (loops.length > 0) await detachLoopDevice(loops.pop()!).catch(() => {});
});

/** A loop device over a new file of `size` bytes filled with `fill`. */
async function loopDevice(name: string, size: number, fill: Buffer | null, flags: string[]): Promise<{ file: string; loop: string }> {
  const file = join(e2e.dir, name);
  await writeFile(file, fill ?? Buffer.alloc(0));
  if (!fill) await run('truncate', ['-s', String(size), file]);
  const loop = await attachLoopDevice(file, flags);
  loops.push(loop);
  return { file, loop };
}

const installOnto = (target: string, serial: string) => runAgentBundle(e2e.bundle, coroBoardArgs(serial, target, e2e.server.deviceUrl, 'D8:3A:DD:00:00:51'));

describe.skipIf(!canUseLoopDevices() && !process.env.CI)('pitcrew-agent onto a block device', () => {
  it('installs onto a loop device (no geometry for mtools) and leaves the kernel listing the new partitions', async () => {
    const { dir, image, server: t } = e2e;
    const { file, loop } = await loopDevice('card.img', Math.ceil(image.size / MiB) * MiB + MiB, null, ['--partscan']);
    const sysDir = `/sys/block/${basename(loop)}`;
    expect(await readKernelPartitions(sysDir)).toEqual([]);
    // mtools cannot ask a loop device (or nbd, zram) for its geometry: it says so on stderr and carries on.

    const agent = await installOnto(loop, '10000000b10c0001');
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/\[completed\] installed 2025\.11\.1 as KXP2-CORO-007; image delivery v2 \((zlib|zstd-cli)\); first boot via rpi-preseed; verified \(o_direct\)\n/);
    expect(agent.stderr).toBe('');
    expect(agent.stdout).toMatch(/capacity check passed: \d+ markers up to /);

    // The kernel lists the partitions of the table just written, and their device nodes exist.
    expect(await readKernelPartitions(sysDir)).toEqual([
      { number: 1, start: image.boot.startByte / 512, size: image.boot.sizeBytes / 512 },
      { number: 2, start: image.root.startByte / 512, size: image.root.sizeBytes / 512 },
    ]);
    for (const n of [1, 2]) expect(existsSync(`${loop}p${n}`), `${loop}p${n}`).toBe(true);

    await detachLoopDevice(loop);
    loops.splice(loops.indexOf(loop), 1);
    const work = join(dir, 'compare');
    await mkdir(work, { recursive: true });
    expect(apartFromCheckinFiles(await diffDiskWithImage(file, image, work))).toEqual({ outsidePartitions: [], boot: ['/rpi-preseed.toml'], root: ['/etc/hostname', '/etc/hosts'] });
    expect(await readBootFile(file, image.boot.startByte, 'rpi-preseed.toml')).toBe('config_version = "1.0"\n\n[system]\nhostname = "KXP2-CORO-007"\n');
    expect(await readRootFile(file, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    await checkFilesystems(file, image);
    const [deployment] = await listDeployments(t, { search: '10000000b10c0001' });
    expect(deployment).toMatchObject({ status: 'completed', hostname: 'KXP2-CORO-007', error_message: null, card_kind: 'other', card_capacity_check: 'ok' });
    expect(deployment!.card_write_bps).toBeGreaterThan(0);
    expect(deployment!.card_read_bps).toBeGreaterThan(0);
  });

  it('refuses a drive with 4096-byte logical sectors before writing anything', async () => {
    const { image, server: t } = e2e;
    const old = randomBytes(Math.ceil(image.size / MiB) * MiB + MiB);
    const { file, loop } = await loopDevice('4kn.img', old.length, old, ['--sector-size', '4096']);
    expect((await readFile(`/sys/block/${basename(loop)}/queue/logical_block_size`, 'utf8')).trim()).toBe('4096');

    const agent = await installOnto(loop, '10000000b10c0002');
    expect(agent.code).toBe(1);
    const reason = `the target ${loop} has 4096-byte logical sectors but the image's partition table counts 512-byte sectors: the partitions would be misread (a 4Kn drive?); refusing to write it`;
    expect(agent.stderr).toContain(`installation failed while assigned: ${reason}`);
    const [deployment] = await listDeployments(t, { search: '10000000b10c0002' });
    expect(deployment).toMatchObject({ status: 'failed', error_message: reason });

    await detachLoopDevice(loop);
    loops.splice(loops.indexOf(loop), 1);
    expect((await readFile(file)).equals(old)).toBe(true);
    expect((await stat(file)).size).toBe(old.length);
  });
});
