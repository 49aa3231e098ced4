import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addFirstrunArguments,
  addNoCloudDatasource,
  buildFirstrunScript,
  customizeFirstBoot,
  insertIntoFirstrun,
  mergeCloudInitUserData,
  mergePreseedToml,
  renewMetaData,
  rewriteHosts,
} from './first-boot.customizer.js';
import { parsePartitionTable } from './partition-table.parser.js';
import { buildDiskImage, checkFilesystems, makeTempDir, readBootFile, readRootFile, statRootPath, type BuildOptions, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';

async function customize(image: BuiltImage, hostname = 'KXP2-CORO-007', instanceId = 'pitcrew-42-abc') {
  const head = (await readFile(image.path)).subarray(0, 1 << 20);
  return customizeFirstBoot({
    devicePath: image.path,
    table: parsePartitionTable(head),
    hostname,
    instanceId,
    readDisk: async (position, length) => (await readFile(image.path)).subarray(position, position + length),
  });
}

describe('customizeFirstBoot on real disk images', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const build = (options: BuildOptions) => buildDiskImage(dir, options);

  it('feeds rpi-preseed: [system] hostname, unit enabled, stale stamp removed', async () => {
    const image = await build({ flavour: 'rpi-preseed', stalePreseedStamp: true });
    const result = await customize(image);

    expect(result.flavour).toBe('rpi-preseed');
    expect(await readBootFile(image.path, image.boot.startByte, 'rpi-preseed.toml')).toBe('config_version = "1.0"\n\n[system]\nhostname = "KXP2-CORO-007"\n');
    expect(await readRootFile(image.path, image.root.startByte, '/var/lib/rpi-preseed/applied')).toBeNull();
    expect(await statRootPath(image.path, image.root.startByte, '/etc/systemd/system/multi-user.target.wants/rpi-preseed.service')).toMatch(/Type: symlink/);
    // cmdline.txt is not touched: rpi-preseed is a systemd unit, not a kernel argument.
    expect(await readBootFile(image.path, image.boot.startByte, 'cmdline.txt')).toBe(image.cmdline);
    expect(await readRootFile(image.path, image.root.startByte, '/etc/hostname')).toBe('KXP2-CORO-007\n');
  });

  it('keeps the operator settings already in rpi-preseed.toml', async () => {
    const image = await build({ flavour: 'rpi-preseed', bootFiles: { 'rpi-preseed.toml': 'config_version = "1.1"\n\n[system]\nhostname = "raspberrypi"\n\n[ssh]\nenabled = true\n' } });
    await customize(image);
    expect(await readBootFile(image.path, image.boot.startByte, 'rpi-preseed.toml')).toBe(
      'config_version = "1.1"\n\n[system]\nhostname = "KXP2-CORO-007"\n\n[ssh]\nenabled = true\n',
    );
  });

  it('enables the rpi-preseed unit when the image does not', async () => {
    const image = await build({ flavour: 'rpi-preseed', preseedUnitEnabled: false });
    expect(await statRootPath(image.path, image.root.startByte, '/etc/systemd/system')).toMatch(/not found/);

    const result = await customize(image);
    expect(result.written).toContain('root:/etc/systemd/system/multi-user.target.wants/rpi-preseed.service');
    expect(await statRootPath(image.path, image.root.startByte, '/etc/systemd/system/multi-user.target.wants/rpi-preseed.service')).toMatch(
      /Type: symlink[\s\S]*Fast link dest: "\/usr\/lib\/systemd\/system\/rpi-preseed.service"/,
    );
    await checkFilesystems(image.path, image);
  });

  it('feeds cloud-init: user-data hostname, fresh instance-id, ds=nocloud on cmdline.txt', async () => {
    const image = await build({ flavour: 'cloud-init' });
    const result = await customize(image);

    expect(result.flavour).toBe('cloud-init');
    expect(await readBootFile(image.path, image.boot.startByte, 'user-data')).toBe(
      '#cloud-config\n# This file is the cloud-init user-data seed; Raspberry Pi Imager fills it in.\ntimezone: Europe/London\nhostname: KXP2-CORO-007\nmanage_etc_hosts: true\npreserve_hostname: false\n',
    );
    expect(await readBootFile(image.path, image.boot.startByte, 'meta-data')).toBe('instance-id: pitcrew-42-abc\nlocal-hostname: KXP2-CORO-007\ndsmode: local\n');
    expect(await readBootFile(image.path, image.boot.startByte, 'cmdline.txt')).toBe(`${image.cmdline.trim()} ds=nocloud;s=file:///boot/firmware/\n`);
    // Untouched: the network seed the image came with.
    expect(await readBootFile(image.path, image.boot.startByte, 'network-config')).toBe('# network: {config: disabled}\n');
  });

  it('gives every deployment a new cloud-init instance-id, so the seed runs again on a re-imaged card', async () => {
    const image = await build({ flavour: 'cloud-init' });
    await customize(image, 'KXP2-CORO-007', 'pitcrew-1-a');
    await customize(image, 'KXP2-CORO-008', 'pitcrew-2-b');
    const meta = await readBootFile(image.path, image.boot.startByte, 'meta-data');
    expect(meta).toBe('instance-id: pitcrew-2-b\nlocal-hostname: KXP2-CORO-008\ndsmode: local\n');
    expect((await readBootFile(image.path, image.boot.startByte, 'cmdline.txt'))!.match(/ds=/g)).toHaveLength(1);
  });

  it('feeds firstrun.sh on Bookworm: script plus systemd.run arguments at the end of cmdline.txt', async () => {
    const image = await build({ flavour: 'firstrun' });
    const result = await customize(image);

    expect(result.flavour).toBe('firstrun');
    const script = await readBootFile(image.path, image.boot.startByte, 'firstrun.sh');
    expect(script).toBe(buildFirstrunScript('KXP2-CORO-007', '/boot/firmware'));
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain("rm -f /boot/firmware/firstrun.sh\nsed -i 's| systemd.run.*||g' /boot/firmware/cmdline.txt\nexit 0\n");
    const cmdline = await readBootFile(image.path, image.boot.startByte, 'cmdline.txt');
    expect(cmdline).toBe(
      `${image.cmdline.trim()} systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n`,
    );
    // What the script's own clean-up leaves behind is the original command line.
    expect(cmdline!.replace(/ systemd\.run.*/, '').trim()).toBe(image.cmdline.trim());
  });

  it('writes only /etc/hostname and /etc/hosts on an image without a first-boot hook', async () => {
    const image = await build({ flavour: 'none' });
    const result = await customize(image);

    expect(result).toMatchObject({ flavour: 'none', bootMount: '/boot', written: ['root:/etc/hostname', 'root:/etc/hosts'] });
    // Said on the deployment: nothing at first boot will set the name, and nothing stops the image from changing it.
    expect(result.warnings).toEqual([
      'no first-boot mechanism found (the image has no systemd): the hostname is only in /etc/hostname and /etc/hosts, where a first-boot service of the image may still replace it',
    ]);
    expect(await readRootFile(image.path, image.root.startByte, '/etc/hosts')).toBe(
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\n\n127.0.1.1\tKXP2-CORO-007\n',
    );
    expect(await statRootPath(image.path, image.root.startByte, '/etc/hostname')).toMatch(/User:\s+0\s+Group:\s+0/);
    expect(await readBootFile(image.path, image.boot.startByte, 'cmdline.txt')).toBe(image.cmdline);
  });

  it('works on a GPT disk too', async () => {
    const image = await build({ flavour: 'cloud-init', scheme: 'gpt' });
    const result = await customize(image);
    expect(result).toMatchObject({ flavour: 'cloud-init', bootPartition: 1, rootPartition: 2 });
  });

  it('leaves both filesystems consistent', async () => {
    for (const flavour of ['rpi-preseed', 'cloud-init', 'firstrun'] as const) {
      const image = await build({ flavour, stalePreseedStamp: true, fileName: `${flavour}.img` });
      await customize(image);
      await checkFilesystems(image.path, image);
    }
  });

  it('refuses an invalid hostname before touching anything', async () => {
    const image = await build({ flavour: 'firstrun' });
    const copy = join(dir, 'copy.img');
    await copyFile(image.path, copy);
    await expect(customize(image, 'bad name; reboot')).rejects.toThrow(/invalid hostname/);
    expect((await readFile(image.path)).equals(await readFile(copy))).toBe(true);
  });

  it('says which partition is missing on a disk without a root filesystem', async () => {
    const image = await build({ flavour: 'none' });
    const table = parsePartitionTable((await readFile(image.path)).subarray(0, 1 << 20));
    const onlyBoot = { ...table, partitions: table.partitions.slice(0, 1) };
    await expect(
      customizeFirstBoot({ devicePath: image.path, table: onlyBoot, hostname: 'A', instanceId: 'x', readDisk: async (p, l) => (await readFile(image.path)).subarray(p, p + l) }),
    ).rejects.toThrow(/no ext4 root partition/);
  });
});

describe('first-boot file edits', () => {
  it('replaces the 127.0.1.1 line or adds one', () => {
    expect(rewriteHosts('127.0.0.1 localhost\n127.0.1.1 raspberrypi\n', 'A-1')).toBe('127.0.0.1 localhost\n127.0.1.1\tA-1\n');
    expect(rewriteHosts('127.0.0.1 localhost\n', 'A-1')).toBe('127.0.0.1 localhost\n127.0.1.1\tA-1\n');
    expect(rewriteHosts(null, 'A-1')).toMatch(/^127\.0\.0\.1\tlocalhost\n.*\n127\.0\.1\.1\tA-1\n$/s);
  });

  it('sets the preseed hostname in every TOML shape', () => {
    expect(mergePreseedToml(null, 'H')).toBe('config_version = "1.0"\n\n[system]\nhostname = "H"\n');
    expect(mergePreseedToml('[ssh]\nenabled = true\n', 'H')).toBe('[ssh]\nenabled = true\n\n[system]\nhostname = "H"\n');
    expect(mergePreseedToml('[system]\ntimezone = "x"\n[ssh]\nhostname = "not this one"\n', 'H')).toBe(
      '[system]\nhostname = "H"\ntimezone = "x"\n[ssh]\nhostname = "not this one"\n',
    );
    expect(mergePreseedToml('system.hostname = "old"\n', 'H')).toBe('system.hostname = "H"\n');
  });

  it('edits cloud-config top-level keys and refuses other user-data', () => {
    expect(mergeCloudInitUserData(null, 'H')).toBe('#cloud-config\nhostname: H\nmanage_etc_hosts: true\npreserve_hostname: false\n');
    expect(mergeCloudInitUserData('#cloud-config\nhostname: old\nfqdn: old.example\npreserve_hostname: true\n', 'H')).toBe(
      '#cloud-config\nhostname: H\npreserve_hostname: false\nmanage_etc_hosts: true\n',
    );
    expect(mergeCloudInitUserData('# only comments\n', 'H')).toBe('#cloud-config\n# only comments\nhostname: H\nmanage_etc_hosts: true\npreserve_hostname: false\n');
    expect(() => mergeCloudInitUserData('#!/bin/sh\necho hi\n', 'H')).toThrow(/not a #cloud-config/);
  });

  it('renews meta-data and keeps its other keys', () => {
    expect(renewMetaData('instance-id: rpi-imager-1\ndsmode: local\n', 'new', 'H')).toBe('instance-id: new\nlocal-hostname: H\ndsmode: local\n');
    expect(renewMetaData(null, 'new', 'H')).toBe('instance-id: new\nlocal-hostname: H\n');
  });

  it('keeps cmdline.txt a single line with the arguments last', () => {
    expect(addNoCloudDatasource('a b\n', '/boot/firmware')).toBe('a b ds=nocloud;s=file:///boot/firmware/\n');
    expect(addNoCloudDatasource('a ds=nocloud-net;s=http://x/\n', '/boot/firmware')).toBe('a ds=nocloud-net;s=http://x/\n');
    expect(addFirstrunArguments('a b\n', '/boot/firstrun.sh')).toBe('a b systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n');
    // Re-running replaces rather than stacks.
    expect(addFirstrunArguments(addFirstrunArguments('a\n', '/boot/x.sh'), '/boot/x.sh')).toBe(addFirstrunArguments('a\n', '/boot/x.sh'));
  });

  it('adds the hostname to a firstrun.sh the master image already has, once', () => {
    const existing = '#!/bin/bash\nset +e\necho custom\nrm -f /boot/firmware/firstrun.sh\n';
    const once = insertIntoFirstrun(existing, 'A');
    expect(once.startsWith("#!/bin/bash\n# pitcrew: hostname\nNEW_HOSTNAME='A'\n")).toBe(true);
    expect(once).toContain('echo custom');
    const twice = insertIntoFirstrun(once, 'B');
    expect(twice.match(/# pitcrew: hostname/g)).toHaveLength(1);
    expect(twice).toContain("NEW_HOSTNAME='B'");
  });
});
