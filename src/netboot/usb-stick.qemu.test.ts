// The installer stick under QEMU: the stick image is built as `pitcrew netboot usb-image` builds it, and attached with
// the target disk as two USB mass storage devices on an xHCI controller (the target first). QEMU's `virt` machine
// cannot run the Raspberry Pi firmware, so the kernel and initramfs are taken out of the stick's FAT partition with
// mtools and started with the stick's own cmdline.txt (its console words swapped for virt's UART: the Pi firmware
// turns serial0 into its UART the same way). The stick's "Raspberry Pi kernel" is Debian's arm64 kernel, which virt
// can run, and its initramfs carries the USB drivers that kernel has as modules. What this proves: the stick's
// contents are a working installer that finds the server from the stick alone, chooses the other USB disk (the two
// could not be told apart without the stick's identifier), never writes the stick, says to remove it, and restarts
// as soon as it is pulled out (device_del on QEMU's monitor).
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAgentBundle, createVenueWithKarts, diffDiskWithImage, listDeployments, registerActiveImage, startTestServer, type TestServer,
} from '../agent/test-support/agent-e2e.harness.js';
import { buildDiskImage, readRootFile } from '../disk-layout/test-support/disk-image.builder.js';
import { prepareAptContext } from './debian-packages.fetcher.js';
import { defaultAgentBundlePath } from './installer-files.js';
import { buildInstaller, netbootPaths } from './netboot.service.js';
import { runQemu } from './test-support/qemu-board.js';
import { prepareQemuKernel, QEMU_USB_MODULES, type QemuKernel } from './test-support/qemu-kernel.js';
import { prepareSampleTftpTree } from './test-support/sample-tftp-tree.js';
import { buildUsbStickImage } from './usb-stick.builder.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const CACHE = join(REPO, 'data', 'test-cache', 'netboot');
const STICK_PARTITION_OFFSET = 1024 * 1024;

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

async function copyOffStick(stick: string, name: string, to: string): Promise<string> {
  await run('mcopy', ['-i', `${stick}@@${STICK_PARTITION_OFFSET}`, '-n', `::/${name}`, to], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  return to;
}

/** Pulls a device out of the running machine, as a hand pulls the stick. */
function unplug(monitorSocket: string, deviceId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const monitor = connect(monitorSocket, () => monitor.end(`device_del ${deviceId}\n`));
    monitor.on('error', reject);
    monitor.on('close', () => resolve());
    monitor.resume();
  });
}

describe('installer stick under QEMU', () => {
  let work: string;
  let server: TestServer;
  let kernel: QemuKernel;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pitcrew-qemu-stick-'));
    server = await startTestServer();
    await buildAgentBundle(defaultAgentBundlePath());
    await buildInstaller({ dataDir: server.dataDir, cacheDir: CACHE });
    kernel = await prepareQemuKernel(await prepareAptContext({ cacheDir: CACHE }), CACHE, QEMU_USB_MODULES);
  });

  afterAll(async () => {
    await kernel?.remove();
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('boots the stick\'s installer, which installs onto the other USB disk, never writes the stick, and restarts once it is pulled out', async () => {
    const image = await buildDiskImage(work, { flavour: 'rpi-preseed' });
    await createVenueWithKarts(server, 'QUSB', '1-3');
    await registerActiveImage(server, image.path, 'KXP2', '2025.2');

    // The network boot folder as `netboot prepare` leaves it, then the stick from it, naming the server as the guest
    // reaches it (user-mode networking: the host's 127.0.0.1 is 10.0.2.2).
    const initramfs = Buffer.concat([await readFile(netbootPaths(server.dataDir).initramfs), kernel.modulesOverlay]);
    const tree = await prepareSampleTftpTree(join(work), {
      kernel8: await readFile(kernel.vmlinuz),
      initramfs,
      serverUrl: `http://10.0.2.2:${new URL(server.deviceUrl).port}`,
      extraCmdline: ['pitcrew.product=KXP2', 'pitcrew.venue=QUSB', 'pitcrew.retry=5'],
    });
    const stick = await buildUsbStickImage({ tftpDir: tree.outDir, output: join(work, 'stick.img') });
    const stickBefore = await sha256(stick.output);

    const vmlinuz = await copyOffStick(stick.output, 'kernel8.img', join(work, 'from-stick-kernel'));
    const initrd = await copyOffStick(stick.output, 'pitcrew-installer.img', join(work, 'from-stick-initrd'));
    const stickCmdline = (await readFile(await copyOffStick(stick.output, 'cmdline.txt', join(work, 'from-stick-cmdline')), 'utf8')).trim();
    expect(stickCmdline).toContain(`pitcrew.stick=${stick.diskId}`);
    const cmdline = [...stickCmdline.split(/\s+/).filter((word) => !word.startsWith('console=')), 'console=ttyAMA0', 'panic=-1'].join(' ');

    const disk = join(work, 'disk.raw');
    await writeFile(disk, '');
    await truncate(disk, image.size + 32 * 1024 * 1024);
    const monitorSocket = join(work, 'monitor.sock');
    const unplugging: { done: Promise<void> | null } = { done: null };
    const runResult = await runQemu([
      '-M', 'virt', '-cpu', 'cortex-a57', '-smp', '2', '-m', '1536',
      '-rtc', 'base=1970-01-02T00:00:00',
      '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
      '-monitor', `unix:${monitorSocket},server=on,wait=off`,
      '-kernel', vmlinuz, '-initrd', initrd, '-append', cmdline,
      '-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0,romfile=,mac=dc:a6:32:0e:e0:51',
      '-device', 'qemu-xhci,id=xhci',
      // The board's own USB SSD first, then the stick; both writable, as a real stick is.
      '-drive', `file=${disk},format=raw,if=none,id=target,cache=unsafe`, '-device', 'usb-storage,bus=xhci.0,drive=target,id=target-usb,serial=SSD0001',
      '-drive', `file=${stick.output},format=raw,if=none,id=stick,cache=writethrough`, '-device', 'usb-storage,bus=xhci.0,drive=stick,id=stick-usb,serial=STICK0001',
    ], 600_000, join(CACHE, 'last-qemu-stick-console.log'), (text) => {
      if (!unplugging.done && /pull out sd[a-z]+ now/.test(text)) unplugging.done = unplug(monitorSocket, 'stick-usb');
    });
    await unplugging.done;
    const tail = runResult.console.split('\n').slice(-80).join('\n');

    expect(runResult.timedOut, tail).toBe(false);
    expect(runResult.console, tail).toMatch(/Pitcrew installer — starting/);
    expect(runResult.console, tail).toMatch(/pitcrew: fetching the installer from http:\/\/10\.0\.2\.2:\d+/);
    const stickName = /this installer was started from the installer stick (sd[a-z]+) /.exec(runResult.console)?.[1];
    expect(stickName, tail).toBeDefined();
    const targetName = stickName === 'sda' ? 'sdb' : 'sda';
    expect(runResult.console, tail).toMatch(new RegExp(`\\[assigned\\] installer started on .*; target /dev/${targetName}, ${targetName} \\(USB drive`));
    expect(runResult.console, tail).toMatch(new RegExp(`also found ${stickName} \\(USB drive, .*\\) — it is the installer stick this installer was started from`));
    expect(runResult.console, tail).toMatch(/pitcrew-agent: remove the installer stick before the board restarts \(sd[a-z]/);
    expect(runResult.console, tail).toMatch(/pitcrew-agent: \[completed\] installed 2025\.2 as KXP2-QUSB-001/);
    expect(runResult.console, tail).toMatch(new RegExp(`pitcrew-agent: remove the installer stick before the board restarts: pull out ${stickName} now`));
    expect(runResult.console, tail).toMatch(/pitcrew-agent: the installer stick is out/);
    expect(runResult.console, tail).toMatch(/reboot: Restarting system/);
    expect(runResult.code, tail).toBe(0);

    // The dashboard's account says the same.
    const [deployment] = await listDeployments(server, { search: 'KXP2-QUSB-001' });
    expect(deployment).toMatchObject({ status: 'completed', progress: 100, mac_address: 'dc:a6:32:0e:e0:51' });
    expect(deployment!.message).toMatch(/warning: remove the installer stick before the board restarts/);

    // The stick is byte for byte what was built; the other disk holds the image.
    expect(await sha256(stick.output)).toBe(stickBefore);
    const diff = await diffDiskWithImage(disk, image, join(work, 'diff'));
    expect(diff.outsidePartitions).toEqual([]);
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-QUSB-001\n');
  });
});
