// The rpi-preseed flavour: the profile as rpi-preseed.toml tables (rpi-preseed(5)), merged into what the image ships.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mergePreseedToml } from './first-boot.customizer.js';
import { preseedSections, renderPreseedRootFiles, setTomlSections, SSHD_DROP_IN, tomlString, wpaPsk } from './provisioning.renderer.js';
import { EMPTY_PROFILE, renderProfileForDevice, type ProvisioningProfile } from '../contracts/provisioning-profile.js';
import { ED25519_KEY, FULL_PROFILE, RSA_KEY, SHA512_HASH } from '../contracts/test-support/profile-samples.js';

const DEVICE = renderProfileForDevice(FULL_PROFILE, { hostname: 'KXP2-CORO-007', kart_number: '7', venue_code: 'CORO', serial: '10000000abcd0007', mac: 'DC:A6:32:00:00:07' });
/** Parses TOML with Python's tomllib, a strict TOML 1.0 reader. */
const parseToml = (text: string): Record<string, Record<string, unknown>> =>
  JSON.parse(execFileSync('python3', ['-c', 'import sys, json, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))'], { input: text }).toString());
const render = (profile: ProvisioningProfile, existing: string | null = null) => setTomlSections(mergePreseedToml(existing, 'KXP2-CORO-007'), preseedSections(profile));

describe('rpi-preseed.toml for a profile', () => {
  it('writes every field rpi-preseed has, as valid TOML, with the hostname', () => {
    const parsed = parseToml(render(DEVICE));
    expect(parsed).toEqual({
      config_version: '1.0',
      system: { hostname: 'KXP2-CORO-007' },
      user: { name: 'crew', password: SHA512_HASH, password_encrypted: true, groups: ['sudo', 'adm'] },
      ssh: { enabled: true, password_authentication: false, authorized_keys: [ED25519_KEY, RSA_KEY] },
      // The PSK, not the passphrase: the passphrase is never on the card.
      wlan: { ssid: 'Venue Karts', password: wpaPsk(DEVICE.wifi!), password_encrypted: true, key_mgmt: 'wpa-psk', hidden: false, country: 'DE' },
      locale: { timezone: 'Europe/Berlin', keymap: 'de', keymap_variant: 'nodeadkeys', locales: ['de_DE.UTF-8'], lang: 'de_DE.UTF-8' },
      runcmd: { early: ["chown 'crew:crew' '/etc/kart/identity.conf'"], late: ['echo provisioned KXP2-CORO-007 >/var/log/pitcrew-provisioned'] },
    });
    expect(render(DEVICE)).not.toContain('correct horse battery');
  });

  it('replaces the image\'s own tables for the same settings and keeps the rest', () => {
    const existing = [
      'config_version = "1.1"',
      'user.name = "pi"',
      '',
      '[system]',
      'hostname = "master"',
      '',
      '[user]',
      'name = "alice"',
      'password = "changeme"',
      '',
      '[interfaces]',
      'i2c = true',
      '',
      '[locale]',
      'keymap = "gb"',
      'locales = [',
      '  "en_GB.UTF-8",',
      ']',
      '',
    ].join('\n');
    const text = render({ ...EMPTY_PROFILE, user: { name: 'crew', password_hash: null }, time_zone: 'Europe/Rome' }, existing);
    const parsed = parseToml(text);
    expect(parsed).toEqual({
      config_version: '1.1',
      system: { hostname: 'KXP2-CORO-007' },
      interfaces: { i2c: true },
      user: { name: 'crew', groups: ['sudo', 'adm'] },
      locale: { timezone: 'Europe/Rome' },
    });
    expect(text).not.toContain('changeme');
  });

  it('writes no table for what the profile leaves out', () => {
    expect(preseedSections(EMPTY_PROFILE)).toEqual([]);
    expect(parseToml(render({ ...EMPTY_PROFILE, ssh: { authorized_keys: [], password_login: true } })).ssh).toEqual({ enabled: true, password_authentication: true });
  });

  it('escapes quotes and backslashes the way rpi-preseed\'s parser undoes them, and refuses control characters', () => {
    const profile: ProvisioningProfile = { ...EMPTY_PROFILE, wifi: { ssid: 'Kart "A"\\B', passphrase: 'correct horse battery', country: 'GB', hidden: true }, commands: ["printf '%s\\n' \"it's\""] };
    const parsed = parseToml(render(profile));
    expect(parsed.wlan!.ssid).toBe('Kart "A"\\B');
    expect(parsed.runcmd!.late).toEqual(["printf '%s\\n' \"it's\""]);
    expect(tomlString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(() => tomlString('two\nlines')).toThrow(/control character/);
  });

  it('puts the files and the sshd drop-in on the root filesystem, the commands going to [runcmd] late', () => {
    expect(renderPreseedRootFiles(DEVICE).map((change) => change.path)).toEqual([SSHD_DROP_IN, '/etc/kart/identity.conf', '/opt/camera/KXP2-CORO-007.json']);
  });
});
