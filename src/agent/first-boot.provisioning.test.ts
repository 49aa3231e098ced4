// The profile written by the real customizer onto real FAT and ext4 volumes (mtools, debugfs), read back from the disk.
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { customizeFirstBoot } from './first-boot.customizer.js';
import { parsePartitionTable } from './partition-table.parser.js';
import {
  COMMANDS_UNIT_LINK, FIRSTRUN_PROVISIONING_MARK, NM_CONNECTION, PROVISION_SCRIPT, PROVISION_UNIT, PROVISION_UNIT_LINK, SSHD_DROP_IN, WPA_SUPPLICANT_CONF, IFUPDOWN_WLAN,
} from './provisioning.renderer.js';
import { buildFirstrunRoot, canChroot, PI_OS_HELPERS } from './test-support/firstrun-root.js';
import { buildDiskImage, checkFilesystems, makeTempDir, readBootFile, readRootFile, statRootPath, type BuildOptions, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { renderProfileForDevice, type ProvisioningProfile } from '../contracts/provisioning-profile.js';
import { FULL_PROFILE, SHA512_HASH } from '../contracts/test-support/profile-samples.js';

const DEVICE_PROFILE = renderProfileForDevice(FULL_PROFILE, { hostname: 'KXP2-CORO-007', kart_number: '7', venue_code: 'CORO', serial: '10000000abcd0007', mac: 'DC:A6:32:00:00:07' });

async function customize(image: BuiltImage, provisioning: ProvisioningProfile) {
  const head = (await readFile(image.path)).subarray(0, 1 << 20);
  return customizeFirstBoot({
    devicePath: image.path,
    table: parsePartitionTable(head),
    hostname: 'KXP2-CORO-007',
    instanceId: 'pitcrew-42-abc',
    generalize: false,
    provisioning,
    readDisk: async (position, length) => (await readFile(image.path)).subarray(position, position + length),
  });
}

describe('provisioning on real disk images', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const build = (options: BuildOptions) => buildDiskImage(dir, options);
  const root = (image: BuiltImage, path: string) => readRootFile(image.path, image.root.startByte, path);
  const stat = (image: BuiltImage, path: string) => statRootPath(image.path, image.root.startByte, path);

  it('writes plain Debian\'s files with their modes and the one-shot unit, enabled, on an image without a first-boot hook', async () => {
    const image = await build({ flavour: 'none' });
    const result = await customize(image, DEVICE_PROFILE);
    expect(result.flavour).toBe('none');
    expect(result.written).toEqual(expect.arrayContaining([`root:${WPA_SUPPLICANT_CONF}`, `root:${IFUPDOWN_WLAN}`, `root:${SSHD_DROP_IN}`, `root:${PROVISION_UNIT}`, 'root:/etc/kart/identity.conf']));

    expect(await root(image, WPA_SUPPLICANT_CONF)).toContain('psk=1989ebb102e3315213e5be13db4f64365b801ff677a6e01d0caa40063167816b\n'); // wpa_passphrase 'Venue Karts' 'correct horse battery'
    expect(await stat(image, WPA_SUPPLICANT_CONF)).toMatch(/Mode:\s+0600/);
    expect(await root(image, '/etc/kart/identity.conf')).toBe('venue=CORO\nkart=7\nhost=KXP2-CORO-007\nserial=10000000abcd0007\nmac=DC:A6:32:00:00:07\n');
    expect(await stat(image, '/opt/camera/KXP2-CORO-007.json')).toMatch(/Mode:\s+0600/);
    expect(await root(image, '/etc/timezone')).toBe('Europe/Berlin\n');
    expect(await stat(image, '/etc/localtime')).toMatch(/Fast link dest: "\/usr\/share\/zoneinfo\/Europe\/Berlin"/);
    expect(await root(image, PROVISION_SCRIPT)).toContain(`crew:${SHA512_HASH}`);
    expect(await stat(image, PROVISION_SCRIPT)).toMatch(/Mode:\s+0700/);
    expect(await stat(image, PROVISION_UNIT_LINK)).toMatch(/Type: symlink/);
    expect(await root(image, '/etc/hostname')).toBe('KXP2-CORO-007\n');
    await checkFilesystems(image.path, image);
  });

  it('writes a NetworkManager keyfile (0600) on an image with NetworkManager, and root\'s keys without a user', async () => {
    const image = await build({ flavour: 'none', rootFiles: { '/usr/sbin/NetworkManager': '#!/bin/sh\n' } });
    const result = await customize(image, { ...DEVICE_PROFILE, user: null });
    expect(result.flavour).toBe('none');
    expect(await root(image, NM_CONNECTION)).toContain('ssid=Venue Karts\n');
    expect(await stat(image, NM_CONNECTION)).toMatch(/Mode:\s+0600/);
    expect(await root(image, WPA_SUPPLICANT_CONF)).toBeNull();
    expect(await root(image, '/root/.ssh/authorized_keys')).toBe(`${FULL_PROFILE.ssh.authorized_keys.join('\n')}\n`);
    expect(await stat(image, '/root/.ssh/authorized_keys')).toMatch(/Mode:\s+0600/);
    await checkFilesystems(image.path, image);
  });

  it('feeds Raspberry Pi OS Bookworm through firstrun.sh: the block after the hostname, files and the commands\' unit on the root', async () => {
    const image = await build({ flavour: 'firstrun', rootFiles: { '/usr/sbin/NetworkManager': '#!/bin/sh\n' } });
    const result = await customize(image, DEVICE_PROFILE);
    expect(result.flavour).toBe('firstrun');
    const script = (await readBootFile(image.path, image.boot.startByte, 'firstrun.sh'))!;
    execFileSync('sh', ['-n'], { input: script });
    const lines = script.split('\n');
    const block = lines.indexOf(FIRSTRUN_PROVISIONING_MARK);
    expect(block).toBeGreaterThan(lines.indexOf("NEW_HOSTNAME='KXP2-CORO-007'"));
    expect(block).toBeLessThan(lines.indexOf('rm -f /boot/firmware/firstrun.sh'));
    expect(script).toContain(`/usr/lib/userconf-pi/userconf 'crew' '${SHA512_HASH}'`);
    // Without imager_custom, NetworkManager's keyfile (the image has NetworkManager).
    expect(script).toContain(`cat >${NM_CONNECTION} <<'PITCREW_EOF'\n`);

    expect(await root(image, '/etc/kart/identity.conf')).toBe('venue=CORO\nkart=7\nhost=KXP2-CORO-007\nserial=10000000abcd0007\nmac=DC:A6:32:00:00:07\n');
    expect(await stat(image, '/opt/camera/KXP2-CORO-007.json')).toMatch(/Mode:\s+0600/);
    expect(await root(image, SSHD_DROP_IN)).toContain('PasswordAuthentication no\n');
    expect(await stat(image, COMMANDS_UNIT_LINK)).toMatch(/Type: symlink/);
    // firstrun.sh does what the fallback's unit would: none of it on the root filesystem.
    for (const path of [PROVISION_UNIT, PROVISION_SCRIPT, NM_CONNECTION, '/etc/timezone']) expect(await root(image, path)).toBeNull();
    await checkFilesystems(image.path, image);
  });

  it.skipIf(!canChroot() && !process.env.CI)('the firstrun.sh read back from the card runs the profile through Raspberry Pi OS\'s helpers', async () => {
    // A master that already boots through its own firstrun.sh: the profile joins it.
    const wired = 'console=tty1 rootwait systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n';
    const master = "#!/bin/bash\nset +e\necho master step\nrm -f /boot/firmware/firstrun.sh\nsed -i 's| systemd.run.*||g' /boot/firmware/cmdline.txt\n";
    const image = await build({ flavour: 'firstrun', bootFiles: { 'firstrun.sh': master, 'cmdline.txt': wired } });
    await customize(image, DEVICE_PROFILE);
    const script = (await readBootFile(image.path, image.boot.startByte, 'firstrun.sh'))!;
    const throwaway = await buildFirstrunRoot(join(dir, 'root'), {
      helpers: PI_OS_HELPERS,
      files: {
        '/boot/firmware/firstrun.sh': script,
        '/boot/firmware/cmdline.txt': (await readBootFile(image.path, image.boot.startByte, 'cmdline.txt'))!,
        '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\npi:x:1000:1000::/home/pi:/bin/bash\n',
        '/etc/group': 'root:x:0:\npi:x:1000:\n',
        '/etc/hosts': '',
      },
    });
    expect(await throwaway.run()).toContain('master step');
    expect(await throwaway.calls()).toEqual(expect.arrayContaining([`userconf [crew] [${SHA512_HASH}]`, 'imager_custom [set_timezone] [Europe/Berlin]']));
    expect(await throwaway.read('/boot/firmware/firstrun.sh')).toBeNull();
    expect(await throwaway.read('/boot/firmware/cmdline.txt')).not.toContain('systemd.run');
  });

  it('feeds the newest Raspberry Pi OS through rpi-preseed.toml: its tables beside the hostname, the files on the root', async () => {
    const image = await build({ flavour: 'rpi-preseed', bootFiles: { 'rpi-preseed.toml': 'config_version = "1.1"\n\n[interfaces]\ni2c = true\n' } });
    const result = await customize(image, DEVICE_PROFILE);
    expect(result.flavour).toBe('rpi-preseed');
    const toml = (await readBootFile(image.path, image.boot.startByte, 'rpi-preseed.toml'))!;
    const parsed = JSON.parse(execFileSync('python3', ['-c', 'import sys, json, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))'], { input: toml }).toString());
    expect(parsed).toMatchObject({
      config_version: '1.1',
      system: { hostname: 'KXP2-CORO-007' },
      interfaces: { i2c: true },
      user: { name: 'crew', password: SHA512_HASH, password_encrypted: true },
      ssh: { enabled: true, password_authentication: false },
      wlan: { ssid: 'Venue Karts', password: '1989ebb102e3315213e5be13db4f64365b801ff677a6e01d0caa40063167816b', country: 'DE' },
      locale: { timezone: 'Europe/Berlin', keymap: 'de' },
      runcmd: { late: ['echo provisioned KXP2-CORO-007 >/var/log/pitcrew-provisioned'] },
    });
    expect(toml).not.toContain('correct horse battery');
    expect(await root(image, '/etc/kart/identity.conf')).toContain('kart=7\n');
    expect(await stat(image, '/opt/camera/KXP2-CORO-007.json')).toMatch(/Mode:\s+0600/);
    // rpi-preseed does the rest: no unit of ours, not even for the commands.
    for (const path of [PROVISION_UNIT, COMMANDS_UNIT_LINK, WPA_SUPPLICANT_CONF, '/etc/timezone']) expect(await root(image, path)).toBeNull();
    await checkFilesystems(image.path, image);
  });

  it('feeds cloud-init through user-data and network-config on the boot partition, keeping the hostname', async () => {
    const image = await build({ flavour: 'cloud-init', bootFiles: { 'user-data': '#cloud-config\nusers:\n  - name: pi\npackage_update: true\n' } });
    const result = await customize(image, DEVICE_PROFILE);
    expect(result.flavour).toBe('cloud-init');
    const userData = await readBootFile(image.path, image.boot.startByte, 'user-data');
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).toContain('hostname: KXP2-CORO-007\n');
    expect(userData).toContain('package_update: true\n');
    expect(userData).not.toContain('name: pi');
    expect(userData).toContain(`"hashed_passwd":"${SHA512_HASH}"`);
    expect(userData).toContain('"path":"/opt/camera/KXP2-CORO-007.json"');
    expect(await readBootFile(image.path, image.boot.startByte, 'network-config')).toContain('"password": "correct horse battery"');
    // cloud-init does it all: nothing of the fallback on the root filesystem.
    expect(await root(image, PROVISION_UNIT)).toBeNull();
    await checkFilesystems(image.path, image);
  });
});
