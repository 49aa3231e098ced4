// The whole network-boot chain without hardware: Debian's arm64 kernel boots the Pitcrew installer initramfs
// under qemu-system-aarch64 (-M virt, user-mode networking: the guest reaches the host's 127.0.0.1 as 10.0.2.2),
// /init fetches Node and the agent from the real server's device listener, and the agent deploys a generated
// Raspberry Pi OS-like image onto a virtio disk, verifies and customises it, and reboots. Then the host checks
// the server's record and the disk itself.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apartFromCheckin, buildAgentBundle, CHECKIN_ROOT_FILES, createVenueWithKarts, diffDiskWithImage, listDeployments, registerActiveImage, startTestServer, type TestServer,
} from '../agent/test-support/agent-e2e.harness.js';
import { buildDiskImage, readRootFile, statRootPath } from '../disk-layout/test-support/disk-image.builder.js';
import { prepareAptContext } from './debian-packages.fetcher.js';
import { buildInstallerInitramfs, INSTALLER_PACKAGES } from './initramfs.builder.js';
import { fetchNodeRuntime, INSTALLER_NODE_VERSION } from './node-runtime.fetcher.js';
import { collectKernelModules } from './kernel-modules.collector.js';
import { defaultAgentBundlePath } from './installer-files.js';
import { buildInstaller, netbootPaths } from './netboot.service.js';
import { prepareQemuKernel, type QemuKernel } from './test-support/qemu-kernel.js';
import { runQemu } from './test-support/qemu-board.js';

const REPO = join(import.meta.dirname, '..', '..');
// Downloaded .debs and the Node package, kept between runs; every file is checked against its archive checksum.
const CACHE = join(REPO, 'data', 'test-cache', 'netboot');

// QEMU is a test dependency: `npm test` installs it (as root) or stops naming it, before any test runs.
describe('network-booted installer under QEMU', () => {
  let work: string;
  let server: TestServer;
  let kernel: QemuKernel;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pitcrew-qemu-'));
    server = await startTestServer();
    // The device listener serves the bundle built beside this installation, as in production; built afresh, so the
    // board runs the agent as the source has it now.
    await buildAgentBundle(defaultAgentBundlePath());
    await buildInstaller({ dataDir: server.dataDir, cacheDir: CACHE });
    kernel = await prepareQemuKernel(await prepareAptContext({ cacheDir: CACHE }), CACHE);
  });

  afterAll(async () => {
    await kernel?.remove();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('boots from the kernel to the installer, which deploys, verifies and customises the disk and reports completed', async () => {
    const image = await buildDiskImage(work, { flavour: 'rpi-preseed' });
    await createVenueWithKarts(server, 'QEMU', '7-9');
    const registered = await registerActiveImage(server, image.path, 'KXP2', '2025.1');
    const disk = join(work, 'disk.raw');
    await writeFile(disk, '');
    await truncate(disk, image.size + 32 * 1024 * 1024);
    const initrd = join(work, 'initrd.img');
    await writeFile(initrd, Buffer.concat([await readFile(netbootPaths(server.dataDir).initramfs), kernel.modulesOverlay]));

    const devicePort = new URL(server.deviceUrl).port;
    const cmdline = [
      'console=ttyAMA0', 'panic=-1',
      `pitcrew.server=http://10.0.2.2:${devicePort}`,
      'pitcrew.target=/dev/vda', 'pitcrew.product=KXP2', 'pitcrew.venue=QEMU',
      'pitcrew.retry=5',
    ].join(' ');
    const run = await runQemu([
      '-M', 'virt', '-cpu', 'cortex-a57', '-smp', '2', '-m', '1536',
      // A Pi has no battery-backed clock: the board starts in 1970.
      '-rtc', 'base=1970-01-02T00:00:00',
      '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
      '-kernel', kernel.vmlinuz, '-initrd', initrd, '-append', cmdline,
      '-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0,romfile=,mac=dc:a6:32:0e:e0:01',
      '-drive', `file=${disk},format=raw,if=none,id=disk0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=disk0',
    ], 600_000, join(CACHE, 'last-qemu-console.log'));
    const tail = run.console.split('\n').slice(-80).join('\n');

    // The installer's own account on the console, start to finish.
    expect(run.timedOut, tail).toBe(false);
    expect(run.console, tail).toMatch(/Pitcrew installer — starting/);
    expect(run.console, tail).toMatch(/pitcrew: network up: eth0 10\.0\.2\.15/);
    expect(run.console, tail).toMatch(new RegExp(`pitcrew: installer ready \\(Node v${INSTALLER_NODE_VERSION.replaceAll('.', '\\.')}\\)`));
    expect(run.console, tail).toMatch(/pitcrew-agent: clock set from the server: 20\d\d-\d\d-\d\dT[\d:.]+Z \(it said 1970-01-0/);
    expect(run.console, tail).toMatch(/pitcrew-agent: assigned KXP2-QEMU-007/);
    // Image delivery v2, decompressed by the installer runtime's own zlib.
    expect(run.console, tail).toMatch(/pitcrew-agent: image delivery v2: .* in \d+ zstd chunks \(zlib\)/);
    expect(run.console, tail).toMatch(/pitcrew-agent: \[completed\] installed 2025\.1 as KXP2-QEMU-007; image delivery v2 \(zlib\)/);
    expect(run.console, tail).toMatch(/pitcrew-agent: done in .*KXP2-QEMU-007 is installed/);
    // The kernel was told about the new partition table (no warning that it does not list the partitions).
    expect(run.console, tail).not.toMatch(/does not list partition/);
    // The agent rebooted the board; -no-reboot turns that into QEMU exiting.
    expect(run.console, tail).toMatch(/reboot: Restarting system/);
    expect(run.code, tail).toBe(0);

    const [deployment] = await listDeployments(server, { search: 'KXP2-QEMU-007' });
    expect(deployment).toMatchObject({ hostname: 'KXP2-QEMU-007', status: 'completed', progress: 100, mac_address: 'dc:a6:32:0e:e0:01' });
    expect(deployment!.image_checksum).toBe(image.sha256);
    expect(deployment!.bytes_total).toBe(registered.delivery!.mapped_bytes);

    // The disk, read from the host: byte-identical outside the partitions, and inside only the first-boot files differ.
    const diff = await diffDiskWithImage(disk, image, join(work, 'diff'));
    expect(diff.outsidePartitions).toEqual([]);
    expect(diff.boot).toEqual(['/rpi-preseed.toml']);
    expect(apartFromCheckin(diff.root)).toEqual(['/etc/hostname', '/etc/hosts']);
    expect(diff.root).toEqual(expect.arrayContaining(CHECKIN_ROOT_FILES));
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-QEMU-007\n');
    // Written with the server's time, not 1970's.
    expect(await statRootPath(disk, image.root.startByte, '/etc/hostname')).toMatch(new RegExp(`mtime: .* ${new Date().getUTCFullYear()}\n`));
  });

  it('builds byte-identical installer files again from the same packages', async () => {
    const again = await mkdtemp(join(tmpdir(), 'pitcrew-rebuild-'));
    try {
      const first = await buildInstaller({ dataDir: server.dataDir, cacheDir: CACHE });
      const second = await buildInstaller({ dataDir: again, cacheDir: CACHE });
      expect(second.initramfs.sha256).toBe(first.initramfs.sha256);
      expect(second.node.sha256).toBe(first.node.sha256);
      expect(await readFile(second.manifestFile, 'utf8')).toBe(await readFile(first.manifestFile, 'utf8'));
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });

  it('refuses to build an installer whose Node could not run for want of a library', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'pitcrew-rebuild-'));
    try {
      const node = await fetchNodeRuntime(CACHE);
      await expect(buildInstallerInitramfs({
        outDir: elsewhere,
        cacheDir: CACHE,
        packages: INSTALLER_PACKAGES.filter((name) => name !== 'libstdc++6'),
        mustRun: [{ name: 'node', data: node.binary }],
      })).rejects.toThrow(/missing libraries[\s\S]*node needs libstdc\+\+\.so\.6/);
      expect(existsSync(join(elsewhere, 'pitcrew-installer.img'))).toBe(false);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('picks kernel modules with what they depend on first, and names a module the kernel does not have', async () => {
    const root = join(kernel.dir, 'lib/modules', kernel.version);
    const names = (await collectKernelModules(root, ['virtio_net'])).map((m) => m.name);
    expect(names.at(-1)).toBe('virtio_net');
    expect(names.indexOf('failover')).toBeLessThan(names.indexOf('net_failover'));
    expect(names.indexOf('net_failover')).toBeLessThan(names.indexOf('virtio_net'));
    await expect(collectKernelModules(root, ['virtio-net', 'no_such_driver'])).rejects.toThrow(/kernel module "no_such_driver" is not in/);
  });
});
