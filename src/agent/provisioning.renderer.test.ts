import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  cloudInitKeys,
  cloudInitNetworkConfig,
  IFUPDOWN_WLAN,
  NM_CONNECTION,
  PROVISION_SCRIPT,
  PROVISION_UNIT,
  PROVISION_UNIT_LINK,
  COMMANDS_SCRIPT,
  COMMANDS_UNIT,
  COMMANDS_UNIT_LINK,
  commandsScript,
  provisionScript,
  renderRootFiles,
  setCloudConfigKeys,
  shellQuote,
  networkManagerKeyfile,
  wpaSupplicantConf,
  SSHD_DROP_IN,
  WPA_SUPPLICANT_CONF,
} from './provisioning.renderer.js';
import type { Ext4Change } from '../disk-layout/ext4.volume.js';
import { EMPTY_PROFILE, type ProvisioningProfile } from '../contracts/provisioning-profile.js';
import { ED25519_KEY, FULL_PROFILE, RSA_KEY, SHA512_HASH } from '../contracts/test-support/profile-samples.js';

const fileOf = (changes: Ext4Change[], path: string) => {
  const change = changes.find((c) => c.path === path);
  if (change?.kind !== 'file') throw new Error(`no file ${path}`);
  return { content: String(change.content), mode: change.mode ?? 0o644 };
};
/** Parses YAML with PyYAML, as cloud-init does. */
const parseYaml = (text: string): unknown => JSON.parse(execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text }).toString());
/** The shell's own syntax check. */
const checkShell = (script: string) => execFileSync('sh', ['-n'], { input: script });

describe('the fallback: root filesystem files and a one-shot unit', () => {
  it('writes every file where plain Debian reads it, secrets 0600, and enables the unit', () => {
    const changes = renderRootFiles(FULL_PROFILE, { hasNetworkManager: false });
    expect(changes.map((c) => [c.kind, c.path, c.kind === 'file' ? (c.mode ?? 0o644).toString(8) : c.kind === 'symlink' ? c.target : ''])).toEqual([
      ['file', WPA_SUPPLICANT_CONF, '600'],
      ['file', IFUPDOWN_WLAN, '644'],
      ['file', '/var/lib/pitcrew-provision/authorized_keys', '600'],
      ['file', SSHD_DROP_IN, '644'],
      ['file', '/etc/timezone', '644'],
      ['symlink', '/etc/localtime', '/usr/share/zoneinfo/Europe/Berlin'],
      ['file', '/etc/default/keyboard', '644'],
      ['file', '/etc/default/locale', '644'],
      ['file', '/etc/kart/identity.conf', '644'],
      ['file', '/opt/camera/{hostname}.json', '600'],
      ['file', PROVISION_SCRIPT, '700'],
      ['file', PROVISION_UNIT, '644'],
      ['symlink', PROVISION_UNIT_LINK, PROVISION_UNIT],
      ['file', COMMANDS_SCRIPT, '700'],
      ['file', COMMANDS_UNIT, '644'],
      ['symlink', COMMANDS_UNIT_LINK, COMMANDS_UNIT],
    ]);
    const wpa = fileOf(changes, WPA_SUPPLICANT_CONF).content;
    expect(wpa).toContain('country=DE');
    expect(wpa).toContain(`ssid=${Buffer.from('Venue Karts').toString('hex')}`);
    expect(wpa).toContain('psk=1989ebb102e3315213e5be13db4f64365b801ff677a6e01d0caa40063167816b\n'); // wpa_passphrase 'Venue Karts' 'correct horse battery'
    expect(fileOf(changes, IFUPDOWN_WLAN).content).toContain(`wpa-conf ${WPA_SUPPLICANT_CONF}`);
    expect(fileOf(changes, SSHD_DROP_IN).content).toContain('PasswordAuthentication no\n');
    expect(fileOf(changes, '/etc/default/keyboard').content).toContain('XKBLAYOUT="de"\nXKBVARIANT="nodeadkeys"');
    expect(fileOf(changes, '/etc/default/locale').content).toBe('LANG=de_DE.UTF-8\n');
    expect(fileOf(changes, '/var/lib/pitcrew-provision/authorized_keys').content).toBe(`${ED25519_KEY}\n${RSA_KEY}\n`);
    // Settings before anyone logs in, without waiting for a network; the commands once it is up.
    expect(fileOf(changes, PROVISION_UNIT).content).toContain('After=local-fs.target\nBefore=ssh.service sshd.service systemd-user-sessions.service\n');
    expect(fileOf(changes, PROVISION_UNIT).content).not.toContain('network-online');
    expect(fileOf(changes, COMMANDS_UNIT).content).toContain('After=network-online.target pitcrew-provision.service\nWants=network-online.target\n');
    for (const unit of [PROVISION_UNIT, COMMANDS_UNIT]) expect(fileOf(changes, unit).content).toContain('Type=oneshot');
  });

  it('derives the PSK as wpa_passphrase does (IEEE 802.11i test vector), so no passphrase needs quoting', () => {
    expect(wpaSupplicantConf({ ssid: 'IEEE', passphrase: 'password', country: 'US', hidden: false })).toContain('    psk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e\n');
    expect(wpaSupplicantConf({ ssid: 'a"b', passphrase: 'with "quotes" \\ and }', country: 'US', hidden: true })).toMatch(/ssid=612262\n {4}scan_ssid=1\n {4}psk=[0-9a-f]{64}\n/);
  });

  it('escapes what a NetworkManager keyfile would read as escapes', () => {
    const keyfile = networkManagerKeyfile({ ssid: ' Pits\\5', passphrase: 'back\\slash\\s', country: 'DE', hidden: false });
    expect(keyfile).toContain('ssid=\\sPits\\\\5\n');
    expect(keyfile).toContain('psk=back\\\\slash\\\\s\n');
  });

  it('writes a NetworkManager keyfile instead where NetworkManager is installed', () => {
    const changes = renderRootFiles({ ...FULL_PROFILE, wifi: { ...FULL_PROFILE.wifi!, hidden: true } }, { hasNetworkManager: true });
    expect(changes.some((c) => c.path === WPA_SUPPLICANT_CONF || c.path === IFUPDOWN_WLAN)).toBe(false);
    const keyfile = fileOf(changes, NM_CONNECTION);
    expect(keyfile.mode).toBe(0o600);
    expect(keyfile.content).toMatch(/\[wifi\]\nmode=infrastructure\nssid=Venue Karts\nhidden=true\n/);
    expect(keyfile.content).toContain('[wifi-security]\nkey-mgmt=wpa-psk\npsk=correct horse battery\n');
  });

  it('gives root the keys when the profile has no user, and writes no Wi-Fi without a network', () => {
    const changes = renderRootFiles({ ...EMPTY_PROFILE, ssh: { authorized_keys: [ED25519_KEY], password_login: true } }, { hasNetworkManager: false });
    expect(fileOf(changes, '/root/.ssh/authorized_keys')).toEqual({ content: `${ED25519_KEY}\n`, mode: 0o600 });
    expect(fileOf(changes, SSHD_DROP_IN).content).toContain('PasswordAuthentication yes\n');
    // No commands: no commands' unit.
    expect(changes.map((c) => c.path)).toEqual(['/root/.ssh/authorized_keys', SSHD_DROP_IN, PROVISION_SCRIPT, PROVISION_UNIT, PROVISION_UNIT_LINK]);
  });

  it('writes a first-boot script the shell accepts, quoting what operators typed', () => {
    const tricky: ProvisioningProfile = { ...FULL_PROFILE, commands: ["echo 'it''s' \"$HOME\" `date` ; touch /tmp/x"], files: [{ path: "/etc/it's.conf", mode: '0640', owner: 'crew:adm', content: '' }] };
    const script = `${provisionScript(tricky)}\n${commandsScript(tricky.commands)}`;
    checkShell(provisionScript(tricky));
    checkShell(commandsScript(tricky.commands));
    expect(script).toContain(`echo 'crew:${SHA512_HASH}' | chpasswd -e`);
    expect(script).toContain("useradd -m -s /bin/bash 'crew'");
    expect(script).toContain(`sh -c ${shellQuote(tricky.commands[0]!)} ||`);
    expect(script).toContain(`chown 'crew:adm' ${shellQuote("/etc/it's.conf")} ||`);
    // The quoting gives the shell back exactly what was typed.
    for (const text of [tricky.commands[0]!, "/etc/it's.conf"]) expect(execFileSync('sh', ['-c', `printf '%s' ${shellQuote(text)}`]).toString()).toBe(text);
    // Each removes itself; the first leaves the folder to the commands' unit, which removes it last.
    expect(provisionScript(tricky)).toMatch(/rm -f \S+multi-user\.target\.wants\/pitcrew-provision\.service \S+\/pitcrew-provision\.service\nrm -f \/var\/lib\/pitcrew-provision\/provision\.sh \/var\/lib\/pitcrew-provision\/authorized_keys\nexit 0\n$/);
    expect(commandsScript(tricky.commands)).toMatch(/rm -f \S+pitcrew-provision-commands\.service \S+pitcrew-provision-commands\.service\nrm -rf \/var\/lib\/pitcrew-provision\nexit 0\n$/);
    expect(provisionScript(EMPTY_PROFILE)).toMatch(/\nrm -rf \/var\/lib\/pitcrew-provision\nexit 0\n$/);
    checkShell(provisionScript(EMPTY_PROFILE));
  });

  it('runs the commands it was given, in order, under a real shell', () => {
    const script = commandsScript(['printf "%s\\n" first', "echo 'second one'", 'false', 'echo third'])
      // Only the commands: the units' removal needs a real system.
      .split('\n').filter((line) => line.startsWith('sh -c')).join('\n');
    expect(execFileSync('sh', ['-c', script]).toString()).toBe("first\nsecond one\npitcrew-provision: command failed: false\nthird\n");
  });
});

describe('cloud-init', () => {
  it('merges the profile into the image\'s user-data, replacing its own blocks and keeping the rest', () => {
    const image = '#cloud-config\nhostname: KXP2-CORO-007\nusers:\n  - name: pi\n    groups: [sudo]\n- stray\npackage_update: false\nruncmd:\n- [ls, /]\n';
    const merged = setCloudConfigKeys(image, cloudInitKeys(FULL_PROFILE));
    expect(merged.startsWith('#cloud-config\n')).toBe(true);
    expect(parseYaml(merged)).toEqual({
      hostname: 'KXP2-CORO-007',
      package_update: false,
      ssh_pwauth: false,
      users: ['default', { name: 'crew', shell: '/bin/bash', groups: ['sudo', 'adm'], lock_passwd: false, hashed_passwd: SHA512_HASH, ssh_authorized_keys: [ED25519_KEY, RSA_KEY] }],
      timezone: 'Europe/Berlin',
      keyboard: { layout: 'de', variant: 'nodeadkeys' },
      locale: 'de_DE.UTF-8',
      write_files: FULL_PROFILE.files.map((f) => ({ path: f.path, content: f.content, permissions: f.mode.padStart(4, '0'), owner: f.owner, defer: true })),
      runcmd: FULL_PROFILE.commands,
    });
  });

  it('gives the default user the keys when there is no user, and writes a network-config cloud-init can read', () => {
    expect(parseYaml(setCloudConfigKeys('#cloud-config\n', cloudInitKeys({ ...EMPTY_PROFILE, ssh: { authorized_keys: [ED25519_KEY], password_login: true } })))).toEqual({
      ssh_pwauth: true,
      ssh_authorized_keys: [ED25519_KEY],
    });
    const wifi = { ssid: 'Karts "5GHz": #1', passphrase: "it's: a {secret}", country: 'GB', hidden: true };
    expect(parseYaml(cloudInitNetworkConfig(wifi))).toEqual({
      network: {
        version: 2,
        ethernets: { eth0: { dhcp4: true, optional: true } },
        wifis: { wlan0: { dhcp4: true, optional: true, 'regulatory-domain': 'GB', 'access-points': { 'Karts "5GHz": #1': { password: "it's: a {secret}", hidden: true } } } },
      },
    });
  });
});
