// The installer bundle against the real server, one test per first-boot flavour: the disk must equal the image
// outside the customised files, the hostname files must hold exactly what first boot needs, wired to run once,
// and the server must show the deployment completed.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, checkFilesystems, readBootFile, readRootFile, statRootPath, type ImageFlavour } from '../../src/disk-layout/test-support/disk-image.builder.js';
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
import { readWarnings } from '../../src/contracts/deployment-message.js';

const CHANGED_ON_ROOT = ['/etc/hostname', '/etc/hosts'];
const EXPECTED_CHANGES: Record<ImageFlavour, { boot: string[]; root: string[] }> = {
  'rpi-preseed': { boot: ['/rpi-preseed.toml'], root: [...CHANGED_ON_ROOT, '/var/lib/rpi-preseed/applied'] },
  'cloud-init': { boot: ['/cmdline.txt', '/meta-data', '/user-data'], root: CHANGED_ON_ROOT },
  firstrun: { boot: ['/cmdline.txt', '/firstrun.sh'], root: CHANGED_ON_ROOT },
  none: { boot: [], root: CHANGED_ON_ROOT },
};

const e2e = useAgentE2e('pitcrew-agent-e2e-');

async function installFlavour(flavour: ImageFlavour, product: 'KXP2' | 'RXP2', serial: string) {
  const { dir, bundle, server: t } = e2e;
  const work = join(dir, `${flavour}-${product}`);
  await mkdir(work, { recursive: true });
  const image = await buildDiskImage(work, { flavour, stalePreseedStamp: flavour === 'rpi-preseed' });
  await createVenueWithKarts(t, 'CORO', '7-9, 120');
  const registered = await registerActiveImage(t, image.path, product, '2025.11.1');
  const disk = join(work, 'sd-card.img');
  const agent = await runAgentBundle(bundle, [
    '--server',
    t.deviceUrl,
    '--target',
    disk,
    '--product-type',
    product,
    '--venue',
    'coro',
    '--serial',
    serial,
    '--mac',
    'D8:3A:DD:00:00:42',
    '--model',
    'Raspberry Pi 5 Model B Rev 1.0',
  ]);
  return { image, registered, disk, agent, work };
}

describe('pitcrew-agent with the real server', () => {
  it('installs a Raspberry Pi OS image with rpi-preseed (newest)', async () => {
    const t = e2e.server;
    const { image, registered, disk, agent, work } = await installFlavour('rpi-preseed', 'KXP2', '10000000c0ffee01');
    expect(agent.code, agent.stderr).toBe(0);
    // Through image delivery v2 (the server built the image's chunks when it was registered); on loopback with
    // nothing cut, no chunk is retried.
    expect(agent.stdout).toMatch(/\[completed\] installed 2025\.11\.1 as KXP2-CORO-007; image delivery v2 \((zlib|zstd-cli)\); first boot via rpi-preseed; verified \(o_direct\)\n/);

    expect(apartFromCheckinFiles(await diffDiskWithImage(disk, image, work))).toEqual({ outsidePartitions: [], ...EXPECTED_CHANGES['rpi-preseed'] });
    expect(await readBootFile(disk, image.boot.startByte, 'rpi-preseed.toml')).toBe('config_version = "1.0"\n\n[system]\nhostname = "KXP2-CORO-007"\n');
    // Wired to run exactly once: the unit is enabled, and no stale stamp tells it that it already ran.
    expect(await statRootPath(disk, image.root.startByte, '/etc/systemd/system/multi-user.target.wants/rpi-preseed.service')).toMatch(/Type: symlink/);
    expect(await readRootFile(disk, image.root.startByte, '/var/lib/rpi-preseed/applied')).toBeNull();
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    expect(await readRootFile(disk, image.root.startByte, '/etc/hosts')).toBe(
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\n\n127.0.1.1\tKXP2-CORO-007\n',
    );
    await checkFilesystems(disk, image);

    const [deployment] = await listDeployments(t, { search: '10000000c0ffee01' });
    expect(deployment).toMatchObject({
      hostname: 'KXP2-CORO-007',
      status: 'completed',
      progress: 100,
      // v2 counts the bytes it writes: the image's mapped bytes.
      bytes_total: registered.delivery!.mapped_bytes,
      bytes_done: registered.delivery!.mapped_bytes,
      image_version: '2025.11.1',
      image_checksum: image.sha256,
      mac_address: 'd8:3a:dd:00:00:42',
      error_message: null,
    });
    expect(deployment!.completed_at).not.toBeNull();
  });

  it('installs a Trixie image with cloud-init', async () => {
    const t = e2e.server;
    const { image, disk, agent, work } = await installFlavour('cloud-init', 'KXP2', '10000000c0ffee02');
    expect(agent.code, agent.stderr).toBe(0);

    expect(apartFromCheckinFiles(await diffDiskWithImage(disk, image, work))).toEqual({ outsidePartitions: [], ...EXPECTED_CHANGES['cloud-init'] });
    expect(await readBootFile(disk, image.boot.startByte, 'user-data')).toBe(
      '#cloud-config\n# This file is the cloud-init user-data seed; Raspberry Pi Imager fills it in.\ntimezone: Europe/London\nhostname: KXP2-CORO-007\nmanage_etc_hosts: true\npreserve_hostname: false\n',
    );
    const [deployment] = await listDeployments(t, { search: '10000000c0ffee02' });
    // A fresh instance-id per deployment: cloud-init runs its per-instance modules exactly once for it.
    expect(await readBootFile(disk, image.boot.startByte, 'meta-data')).toMatch(new RegExp(`^instance-id: pitcrew-${deployment!.id}-[0-9a-f-]{36}\nlocal-hostname: KXP2-CORO-007\ndsmode: local\n$`));
    expect(await readBootFile(disk, image.boot.startByte, 'cmdline.txt')).toBe(`${image.cmdline.trim()} ds=nocloud;s=file:///boot/firmware/\n`);
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    await checkFilesystems(disk, image);
    expect(deployment).toMatchObject({ status: 'completed', hostname: 'KXP2-CORO-007' });
  });

  it('installs a Bookworm image with firstrun.sh', async () => {
    const t = e2e.server;
    const { image, disk, agent, work } = await installFlavour('firstrun', 'KXP2', '10000000c0ffee03');
    expect(agent.code, agent.stderr).toBe(0);

    expect(apartFromCheckinFiles(await diffDiskWithImage(disk, image, work))).toEqual({ outsidePartitions: [], ...EXPECTED_CHANGES.firstrun });
    const script = await readBootFile(disk, image.boot.startByte, 'firstrun.sh');
    expect(script).toContain("NEW_HOSTNAME='KXP2-CORO-007'\n");
    // Runs once: it deletes itself and removes its own systemd.run arguments.
    expect(script).toMatch(/rm -f \/boot\/firmware\/firstrun\.sh\nsed -i 's\| systemd\.run\.\*\|\|g' \/boot\/firmware\/cmdline\.txt\nexit 0\n$/);
    expect(await readBootFile(disk, image.boot.startByte, 'cmdline.txt')).toBe(
      `${image.cmdline.trim()} systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n`,
    );
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    await checkFilesystems(disk, image);
    expect((await listDeployments(t, { search: '10000000c0ffee03' }))[0]).toMatchObject({ status: 'completed' });
  });

  it('names an RXP2 board after its serial, on an image with no first-boot hook', async () => {
    const t = e2e.server;
    const { image, disk, agent, work } = await installFlavour('none', 'RXP2', '10000000abc12345');
    expect(agent.code, agent.stderr).toBe(0);

    expect(apartFromCheckinFiles(await diffDiskWithImage(disk, image, work))).toEqual({ outsidePartitions: [], ...EXPECTED_CHANGES.none });
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('RXP2-CORO-ABC12345\n');
    expect(await readRootFile(disk, image.root.startByte, '/etc/hosts')).toMatch(/\n127\.0\.1\.1\tRXP2-CORO-ABC12345\n$/);
    await checkFilesystems(disk, image);
    const [deployment] = await listDeployments(t, { search: '10000000abc12345' });
    expect(deployment).toMatchObject({ status: 'completed', hostname: 'RXP2-CORO-ABC12345', product_type: 'RXP2' });
    // Completed, but not silently: the server keeps the installer's warning, and the dashboard card shows it.
    expect(deployment!.message).toMatch(/; hostname only in \/etc\/hostname; verified/);
    expect(readWarnings(deployment!.message)).toEqual([expect.stringMatching(/^no first-boot mechanism found \(the image has no systemd\): the hostname is only in \/etc\/hostname/)]);
  });

  it('gives a board that is imaged again the hostname it already holds', async () => {
    const { bundle, server: t } = e2e;
    const first = await installFlavour('firstrun', 'KXP2', '10000000c0ffee04');
    expect(first.agent.code, first.agent.stderr).toBe(0);
    const again = await runAgentBundle(bundle, coroBoardArgs('10000000c0ffee04', first.disk, t.deviceUrl, 'd8:3a:dd:00:00:42'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/as KXP2-CORO-007;/);
    // The second write started from a card that already had firstrun wiring: it is replaced, not stacked.
    const cmdline = await readBootFile(first.disk, first.image.boot.startByte, 'cmdline.txt');
    expect(cmdline!.match(/systemd\.run=/g)).toHaveLength(1);
    const deployments = await listDeployments(t, { search: '10000000c0ffee04' });
    expect(deployments.map((d) => [d.hostname, d.status])).toEqual([
      ['KXP2-CORO-007', 'completed'],
      ['KXP2-CORO-007', 'completed'],
    ]);
    expect((await readFile(first.disk)).subarray(510, 512).readUInt16LE(0)).toBe(0xaa55);
  });
});
