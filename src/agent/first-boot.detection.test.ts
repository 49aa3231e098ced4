// Which first-boot mechanism an image really runs, on real disk images: a marker file alone is not enough, and
// what the installer could not use is said on the deployment.
import { readFile, rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, readBootFile, readRootFile, statRootPath, type BuildOptions, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { customizeFirstBoot } from './first-boot.customizer.js';
import { parsePartitionTable } from './partition-table.parser.js';

async function customize(image: BuiltImage) {
  const disk = await readFile(image.path);
  return customizeFirstBoot({
    devicePath: image.path,
    table: parsePartitionTable(disk.subarray(0, 1 << 20)),
    hostname: 'KXP2-CORO-007',
    instanceId: 'pitcrew-42-abc',
    readDisk: async (position, length) => (await readFile(image.path)).subarray(position, position + length),
  });
}

const FIRSTRUN_ARGUMENTS = / systemd\.run=\/boot\/firmware\/firstrun\.sh systemd\.run_success_action=reboot systemd\.unit=kernel-command-line\.target\n$/;
const FSTAB_WITHOUT_BOOT = 'proc /proc proc defaults 0 0\n/dev/mmcblk0p2 / ext4 defaults,noatime 0 1\n';

describe('the first-boot mechanism an image really runs', () => {
  let dir: string;
  beforeEach(async () => { dir = await makeTempDir(); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });
  const build = (options: BuildOptions) => buildDiskImage(dir, options);

  it('falls back to firstrun.sh, and says so, when rpi-preseed\'s package list is there but not its unit', async () => {
    const image = await build({ flavour: 'rpi-preseed', preseedUnitEnabled: false, omitRootFiles: ['/usr/lib/systemd/system/rpi-preseed.service'] });
    const result = await customize(image);

    expect(result.flavour).toBe('firstrun');
    expect(await readBootFile(image.path, image.boot.startByte, 'cmdline.txt')).toMatch(FIRSTRUN_ARGUMENTS);
    expect(await readBootFile(image.path, image.boot.startByte, 'rpi-preseed.toml')).toBeNull();
    expect(result.warnings).toEqual([
      "the image has rpi-preseed (rpi-preseed's package list is on the image but not its systemd unit): the hostname is set for first boot through firstrun.sh instead",
    ]);
  });

  it('follows rpi-preseed to the unit its package list names, and enables it under its own name', async () => {
    const unit = '/usr/lib/systemd/system/rpi-preseed-base.service';
    const image = await build({
      flavour: 'rpi-preseed',
      preseedUnitEnabled: false,
      omitRootFiles: ['/usr/lib/systemd/system/rpi-preseed.service'],
      rootFiles: {
        [unit]: '[Service]\nType=oneshot\nExecStart=/usr/bin/rpi-preseed apply-base\n[Install]\nWantedBy=multi-user.target\n',
        '/var/lib/dpkg/info/rpi-preseed.list': `/.\n/usr/bin/rpi-preseed\n${unit}\n`,
      },
    });
    const result = await customize(image);

    expect(result).toMatchObject({ flavour: 'rpi-preseed', warnings: [] });
    expect(await statRootPath(image.path, image.root.startByte, '/etc/systemd/system/multi-user.target.wants/rpi-preseed-base.service')).toMatch(
      /Type: symlink[\s\S]*Fast link dest: "\/usr\/lib\/systemd\/system\/rpi-preseed-base\.service"/,
    );
  });

  it('does not feed a masked rpi-preseed', async () => {
    const image = await build({ flavour: 'rpi-preseed', rootSymlinks: { '/etc/systemd/system/rpi-preseed.service': '/dev/null' } });
    const result = await customize(image);
    expect(result.flavour).toBe('firstrun');
    expect(result.warnings.join()).toMatch(/rpi-preseed \(rpi-preseed\.service is masked\)/);
  });

  it('does not feed cloud-init that is disabled, or only configured, and says which', async () => {
    const disabled = await build({ flavour: 'cloud-init', rootFiles: { '/etc/cloud/cloud-init.disabled': '' }, fileName: 'disabled.img' });
    const onDisabled = await customize(disabled);
    expect(onDisabled.flavour).toBe('firstrun');
    expect(onDisabled.warnings).toEqual(['the image has cloud-init (cloud-init is disabled (/etc/cloud/cloud-init.disabled)): the hostname is set for first boot through firstrun.sh instead']);
    // Its seed is left as the image had it: nothing would read a new one.
    expect(await readBootFile(disabled.path, disabled.boot.startByte, 'meta-data')).toBe('dsmode: local\ninstance_id: rpios-image\n');

    const configured = await build({ flavour: 'cloud-init', omitRootFiles: ['/usr/bin/cloud-init'], fileName: 'configured.img' });
    expect((await customize(configured)).warnings).toEqual([
      'the image has cloud-init (cloud-init is configured but not installed (no /usr/bin/cloud-init)): the hostname is set for first boot through firstrun.sh instead',
    ]);

    const onCmdline = await build({ flavour: 'cloud-init', bootFiles: { 'cmdline.txt': 'console=tty1 root=/dev/mmcblk0p2 rootwait cloud-init=disabled\n' }, fileName: 'cmdline.img' });
    expect((await customize(onCmdline)).warnings.join()).toMatch(/cloud-init=disabled on cmdline\.txt/);
  });

  it('writes only /etc/hostname when cloud-init\'s seed folder is not mounted, and warns', async () => {
    const image = await build({ flavour: 'cloud-init', rootFiles: { '/etc/fstab': FSTAB_WITHOUT_BOOT } });
    const result = await customize(image);

    expect(result.flavour).toBe('none');
    expect(result.written).toEqual(['root:/etc/hostname', 'root:/etc/hosts']);
    expect(await readRootFile(image.path, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    expect(result.warnings).toEqual([
      'the image has cloud-init (its seed folder is missing: /etc/fstab does not mount the boot partition, so nothing written there is seen at first boot (/boot/firmware is a guess)): the hostname is only in /etc/hostname and /etc/hosts, where a first-boot service of the image may still replace it',
    ]);
  });

  it('names Raspberry Pi Imager\'s imager_custom when systemd is not what the image starts', async () => {
    const image = await build({ flavour: 'firstrun', bootFiles: { 'cmdline.txt': 'console=tty1 root=/dev/mmcblk0p2 rootwait init=/usr/lib/sysvinit/init\n' } });
    const result = await customize(image);

    expect(result.flavour).toBe('none');
    expect(await readBootFile(image.path, image.boot.startByte, 'firstrun.sh')).toBeNull();
    expect(result.warnings).toEqual([
      "the image has Raspberry Pi Imager's imager_custom (firstrun.sh cannot run: cmdline.txt starts /usr/lib/sysvinit/init instead of systemd (init=)): the hostname is only in /etc/hostname and /etc/hosts, where a first-boot service of the image may still replace it",
    ]);
  });

  it('takes Raspberry Pi OS\'s own first-boot resizer on cmdline.txt for systemd', async () => {
    const image = await build({ flavour: 'firstrun' });
    expect(image.cmdline).toMatch(/init=\/usr\/lib\/raspberrypi-sys-mods\/firstboot/);
    expect(await customize(image)).toMatchObject({ flavour: 'firstrun', warnings: [] });
  });
});
