// The firstrun.sh flavour: the block's text, and the whole script run in a throwaway root (chroot) with Raspberry Pi
// OS's helpers present (Raspberry Pi OS Bookworm) and absent (plain Debian), to see what it calls and leaves behind.
import { execFileSync } from 'node:child_process';
import { lstat, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFirstrunScript } from './first-boot.customizer.js';
import { insertFirstrunProvisioning } from './first-boot.provisioning.js';
import { COMMANDS_SCRIPT, COMMANDS_UNIT_LINK, firstrunProvisioningBlock, FIRSTRUN_PROVISIONING_MARK, renderFirstrunRootFiles, SSHD_DROP_IN, wpaPsk } from './provisioning.renderer.js';
import { buildFirstrunRoot, canChroot, PI_OS_HELPERS } from './test-support/firstrun-root.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';
import { EMPTY_PROFILE, renderProfileForDevice, type ProvisioningProfile } from '../contracts/provisioning-profile.js';
import { ED25519_KEY, FULL_PROFILE, RSA_KEY, SHA512_HASH } from '../contracts/test-support/profile-samples.js';

const DEVICE = renderProfileForDevice(FULL_PROFILE, { hostname: 'KXP2-CORO-007', kart_number: '7', venue_code: 'CORO', serial: '10000000abcd0007', mac: 'DC:A6:32:00:00:07' });
const PSK = '1989ebb102e3315213e5be13db4f64365b801ff677a6e01d0caa40063167816b'; // wpa_passphrase 'Venue Karts' 'correct horse battery'
const scriptFor = (profile: ProvisioningProfile, hasNetworkManager = false) =>
  insertFirstrunProvisioning(buildFirstrunScript('KXP2-CORO-007', '/boot/firmware'), firstrunProvisioningBlock(profile, { hasNetworkManager }));
const checkShell = (script: string) => execFileSync('sh', ['-n'], { input: script });

describe('the firstrun.sh block', () => {
  it('uses imager_custom and userconf as Raspberry Pi Imager does, and is valid shell for sh and bash', () => {
    const block = firstrunProvisioningBlock(DEVICE, { hasNetworkManager: true });
    expect(block).toContain(`/usr/lib/userconf-pi/userconf 'crew' '${SHA512_HASH}'`);
    expect(block).toContain(`"$IMAGER_CUSTOM" enable_ssh -k '${ED25519_KEY}' '${RSA_KEY}'`);
    expect(block).toContain(`"$IMAGER_CUSTOM" set_wlan 'Venue Karts' ${PSK} DE`);
    expect(wpaPsk(DEVICE.wifi!)).toBe(PSK);
    expect(block).toContain(`"$IMAGER_CUSTOM" set_timezone 'Europe/Berlin'`);
    expect(block).toContain(`"$IMAGER_CUSTOM" set_keymap 'de'`);
    const script = scriptFor(DEVICE);
    checkShell(script);
    // Only the derived PSK is on the boot partition, whichever branch runs.
    for (const hasNetworkManager of [true, false]) expect(scriptFor(DEVICE, hasNetworkManager)).not.toContain(DEVICE.wifi!.passphrase);
    execFileSync('bash', ['-n'], { input: script });
  });

  it('quotes hostile values so the shell takes them literally', () => {
    const profile: ProvisioningProfile = { ...DEVICE, wifi: { ssid: "it's $(reboot) `x`", passphrase: "pa$$'word\"1", country: 'GB', hidden: true }, files: [{ path: "/opt/a b/it's", mode: '0644', owner: 'crew', content: 'PITCREW_EOF\n' }] };
    const block = firstrunProvisioningBlock(profile, { hasNetworkManager: true });
    expect(block).toContain(`set_wlan -h 'it'\\''s $(reboot) \`x\`' ${wpaPsk(profile.wifi!)} GB`);
    expect(block).toContain(`chown 'crew' '/opt/a b/it'\\''s' || echo 'firstrun: could not give /opt/a b/it'\\''s to crew'`);
    checkShell(scriptFor(profile, true));
  });

  it('keeps the image\'s password when the profile has no hash', () => {
    const block = firstrunProvisioningBlock({ ...EMPTY_PROFILE, user: { name: 'crew', password_hash: null } }, { hasNetworkManager: false });
    expect(block).toContain("\n  /usr/lib/userconf-pi/userconf 'crew'\n");
    expect(block).not.toContain('chpasswd');
  });

  it('leaves out what the profile does not have', () => {
    const block = firstrunProvisioningBlock(EMPTY_PROFILE, { hasNetworkManager: false });
    expect(block.split('\n')).toEqual([FIRSTRUN_PROVISIONING_MARK, expect.stringContaining('IMAGER_CUSTOM='), expect.stringContaining('FIRSTUSER='), '# pitcrew: end of provisioning']);
    expect(renderFirstrunRootFiles(EMPTY_PROFILE).map((c) => c.path)).toEqual([SSHD_DROP_IN]);
  });

  it('puts the files and the commands\' unit on the root filesystem, the commands needing the network firstrun.sh lacks', () => {
    const paths = renderFirstrunRootFiles(DEVICE).map((c) => c.path);
    expect(paths).toEqual([SSHD_DROP_IN, '/etc/kart/identity.conf', '/opt/camera/KXP2-CORO-007.json', COMMANDS_SCRIPT, expect.any(String), COMMANDS_UNIT_LINK]);
  });

  it('goes after the hostname block, replaces its own earlier block, and refuses a broken one', () => {
    const once = scriptFor(DEVICE);
    const lines = once.split('\n');
    expect(lines.indexOf(FIRSTRUN_PROVISIONING_MARK)).toBeGreaterThan(lines.indexOf("NEW_HOSTNAME='KXP2-CORO-007'"));
    expect(lines.indexOf(FIRSTRUN_PROVISIONING_MARK)).toBeLessThan(lines.indexOf('rm -f /boot/firmware/firstrun.sh'));
    const twice = insertFirstrunProvisioning(once, firstrunProvisioningBlock({ ...DEVICE, time_zone: 'Europe/Rome' }, { hasNetworkManager: false }));
    expect(twice.split(FIRSTRUN_PROVISIONING_MARK)).toHaveLength(2);
    expect(twice).toContain("'Europe/Rome'");
    expect(twice).not.toContain("'Europe/Berlin'");
    expect(() => insertFirstrunProvisioning(`#!/bin/sh\n${FIRSTRUN_PROVISIONING_MARK}\necho half\n`, 'x')).toThrow(/unfinished provisioning block/);
  });
});

describe.skipIf(!canChroot() && !process.env.CI)('firstrun.sh run in a throwaway root', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const BOOT = { '/boot/firmware/cmdline.txt': 'console=tty1 root=PARTUUID=1-02 rootwait systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n' };
  const GROUPS = 'root:x:0:\nsudo:x:27:\nadm:x:4:\n';

  it('on Raspberry Pi OS: the user through userconf (renaming pi), keys, Wi-Fi, time zone and keymap through imager_custom', async () => {
    const root = await buildFirstrunRoot(dir, {
      helpers: PI_OS_HELPERS,
      files: {
        ...BOOT,
        '/boot/firmware/firstrun.sh': scriptFor(DEVICE, true),
        '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\npi:x:1000:1000::/home/pi:/bin/bash\n',
        '/etc/group': `${GROUPS}pi:x:1000:\n`,
        '/etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n',
        '/etc/default/keyboard': 'XKBMODEL="pc105"\nXKBLAYOUT="gb"\nXKBVARIANT=""\n',
        '/etc/locale.gen': '# en_GB.UTF-8 UTF-8\n',
        '/etc/kart/identity.conf': 'venue=CORO\n',
      },
    });
    await root.run();
    expect(await root.calls()).toEqual([
      'imager_custom [set_hostname] [KXP2-CORO-007]',
      `userconf [crew] [${SHA512_HASH}]`,
      `imager_custom [enable_ssh] [-k] [${ED25519_KEY}] [${RSA_KEY}]`,
      `imager_custom [set_wlan] [Venue Karts] [${PSK}] [DE]`,
      'imager_custom [set_timezone] [Europe/Berlin]',
      'imager_custom [set_keymap] [de]',
      'locale-gen',
    ]);
    expect(await root.read('/etc/default/keyboard')).toContain('XKBVARIANT="nodeadkeys"\n');
    expect(await root.read('/etc/default/locale')).toBe('LANG=de_DE.UTF-8\n');
    expect(await root.read('/etc/locale.gen')).toContain('\nde_DE.UTF-8 UTF-8\n');
    expect((await stat(join(dir, '/etc/kart/identity.conf'))).uid).toBe(1000);
    // It ran once: gone, and its arguments stripped from cmdline.txt.
    expect(await root.read('/boot/firmware/firstrun.sh')).toBeNull();
    expect(await root.read('/boot/firmware/cmdline.txt')).toBe('console=tty1 root=PARTUUID=1-02 rootwait\n');
  });

  it('on plain Debian: creates the user, sets its hash, installs its keys 0600, writes wpa_supplicant and the time zone', async () => {
    const root = await buildFirstrunRoot(dir, {
      files: {
        ...BOOT,
        '/boot/firmware/firstrun.sh': scriptFor(DEVICE),
        '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
        '/etc/group': GROUPS,
        '/etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\tmaster\n',
        '/etc/kart/identity.conf': 'venue=CORO\n',
      },
    });
    await root.run();
    const calls = await root.calls();
    expect(calls).toEqual(expect.arrayContaining([
      'useradd [-m] [-s] [/bin/bash] [crew]',
      'usermod [-aG] [sudo] [crew]',
      'usermod [-aG] [adm] [crew]',
      'chpasswd [-e]',
      `chpasswd stdin [crew:${SHA512_HASH}]`,
      'systemctl [enable] [ssh]',
      'dpkg-reconfigure [-f] [noninteractive] [keyboard-configuration]',
    ]));
    expect(calls.join('\n')).not.toMatch(/imager_custom|userconf/);
    expect(await root.read('/etc/hostname')).toBe('KXP2-CORO-007\n');
    expect(await root.read('/home/crew/.ssh/authorized_keys')).toBe(`${ED25519_KEY}\n${RSA_KEY}\n`);
    const keys = await stat(join(dir, '/home/crew/.ssh/authorized_keys'));
    expect([keys.mode & 0o777, keys.uid]).toEqual([0o600, 1001]);
    expect(await root.read('/etc/wpa_supplicant/wpa_supplicant-wlan0.conf')).toContain(`psk=${PSK}\n`);
    expect((await stat(join(dir, '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf'))).mode & 0o777).toBe(0o600);
    expect(await root.read('/etc/network/interfaces.d/pitcrew-wlan0')).toContain('wpa-conf /etc/wpa_supplicant/wpa_supplicant-wlan0.conf\n');
    expect((await lstat(join(dir, '/etc/localtime'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, '/etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(await root.read('/etc/timezone')).toBe('Europe/Berlin\n');
    expect(await root.read('/etc/default/keyboard')).toContain('XKBLAYOUT="de"\nXKBVARIANT="nodeadkeys"\n');
    expect((await stat(join(dir, '/etc/kart/identity.conf'))).uid).toBe(1001);
    expect(await root.read('/boot/firmware/firstrun.sh')).toBeNull();
  });

  it('without a profile user: the keys go to Raspberry Pi OS\'s first user, or to root on plain Debian', async () => {
    const profile = { ...DEVICE, user: null, files: [] };
    const root = await buildFirstrunRoot(dir, {
      files: { ...BOOT, '/boot/firmware/firstrun.sh': scriptFor(profile, true), '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n', '/etc/group': GROUPS, '/etc/hosts': '' },
    });
    await root.run();
    expect(await root.read('/root/.ssh/authorized_keys')).toBe(`${ED25519_KEY}\n${RSA_KEY}\n`);
    expect(await root.read('/etc/NetworkManager/system-connections/pitcrew-wifi.nmconnection')).toContain(`ssid=Venue Karts\n`);
    expect(await root.read('/etc/NetworkManager/system-connections/pitcrew-wifi.nmconnection')).toContain(`psk=${PSK}\n`);
    expect((await stat(join(dir, '/etc/NetworkManager/system-connections/pitcrew-wifi.nmconnection'))).mode & 0o777).toBe(0o600);
    expect(await root.calls()).not.toContain(expect.stringMatching(/^useradd/));

    const piOs = await buildFirstrunRoot(join(dir, 'pi-os'), {
      helpers: PI_OS_HELPERS,
      files: { ...BOOT, '/boot/firmware/firstrun.sh': scriptFor(profile, true), '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\npi:x:1000:1000::/home/pi:/bin/bash\n', '/etc/group': GROUPS, '/etc/hosts': '' },
    });
    await piOs.run();
    expect(await piOs.calls()).toContain(`imager_custom [enable_ssh] [-k] [${ED25519_KEY}] [${RSA_KEY}]`);
    expect(await piOs.calls()).not.toContain(expect.stringMatching(/^userconf/));
  });

  it('hands hostile values to the helpers as single, literal arguments', async () => {
    const profile: ProvisioningProfile = { ...EMPTY_PROFILE, wifi: { ssid: "it's $(touch /pwned) `x`", passphrase: 'correct horse battery', country: 'GB', hidden: true }, time_zone: 'America/Port-au-Prince' };
    const root = await buildFirstrunRoot(dir, {
      helpers: PI_OS_HELPERS,
      files: { ...BOOT, '/boot/firmware/firstrun.sh': scriptFor(profile), '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n', '/etc/group': GROUPS, '/etc/hosts': '' },
    });
    await root.run();
    expect(await root.calls()).toContain(`imager_custom [set_wlan] [-h] [it's $(touch /pwned) \`x\`] [${wpaPsk(profile.wifi!)}] [GB]`);
    expect(await root.read('/pwned')).toBeNull();
  });
});
