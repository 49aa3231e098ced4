import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import {
  DeviceProvisioning,
  EMPTY_PROFILE,
  filePathProblem,
  hintOfField,
  profileInputProblems,
  profileProblems,
  ProvisioningProfile,
  ProvisioningProfileInput,
  publicKeyProblem,
  renderProfileForDevice,
  viewOfProfile,
} from './provisioning-profile.js';
import { ED25519_KEY, FULL_PROFILE, RSA_KEY, SHA512_HASH, YESCRYPT_HASH } from './test-support/profile-samples.js';

/** FULL_PROFILE with one field replaced, by a dotted path. */
function withField(path: string, value: unknown): unknown {
  const copy = structuredClone(FULL_PROFILE) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy;
}

/** Where the schema or the rules refuse the value; [] when accepted. */
function refusals(profile: unknown): string[] {
  if (!Value.Check(ProvisioningProfileInput, profile)) return [...Value.Errors(ProvisioningProfileInput, profile)].map((e) => e.instancePath);
  return profileProblems(profile).map((p) => p.field);
}

describe('provisioning profile schema and rules', () => {
  it('accept a profile using every field, the empty profile, and both hash kinds', () => {
    expect(refusals(FULL_PROFILE)).toEqual([]);
    expect(refusals(EMPTY_PROFILE)).toEqual([]);
    expect(refusals(withField('user.password_hash', YESCRYPT_HASH))).toEqual([]);
    expect(refusals(withField('user.password_hash', null))).toEqual([]);
    expect(refusals(withField('wifi.passphrase', 'x'.repeat(63)))).toEqual([]);
    expect(refusals(withField('wifi.passphrase', '12345678'))).toEqual([]);
    expect(refusals(withField('time_zone', 'UTC'))).toEqual([]);
    expect(Value.Check(ProvisioningProfile, FULL_PROFILE)).toBe(true);
  });

  it('accept a change without its secrets (they are kept), but not a stored profile without them', () => {
    const { passphrase: _p, ...wifi } = FULL_PROFILE.wifi!;
    const change = { ...FULL_PROFILE, wifi, user: { name: 'crew' } };
    expect(refusals(change)).toEqual([]);
    expect(Value.Check(ProvisioningProfile, change)).toBe(false);
  });

  const bad: Array<[string, unknown, string]> = [
    ['wifi.ssid', '', '/wifi/ssid'],
    ['wifi.ssid', 'x'.repeat(33), '/wifi/ssid'],
    ['wifi.ssid', 'ü'.repeat(17), 'wifi.ssid'],
    ['wifi.ssid', 'Pits\npsk=evil', '/wifi/ssid'],
    ['wifi.ssid', 'Pits\u0000', '/wifi/ssid'],
    ['wifi.passphrase', 'short12', '/wifi/passphrase'],
    ['wifi.passphrase', 'x'.repeat(64), '/wifi/passphrase'],
    ['wifi.passphrase', 'line\nbreak123', '/wifi/passphrase'],
    ['wifi.passphrase', 'nicht-ascii-ä', '/wifi/passphrase'],
    ['wifi.country', 'de', '/wifi/country'],
    ['wifi.country', 'DEU', '/wifi/country'],
    ['wifi.hidden', 'yes', '/wifi/hidden'],
    ['ssh.authorized_keys', [ED25519_KEY.replace('ssh-ed25519', 'ssh-dss')], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', ['ssh-ed25519'], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', ['ssh-ed25519 not*base64'], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', [`ssh-rsa ${ED25519_KEY.split(' ')[1]}`], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', [`ssh-ed25519 ${ED25519_KEY.split(' ')[1]!.slice(0, 40)}`], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', [RSA_KEY, `${ED25519_KEY}\n${RSA_KEY}`], 'ssh.authorized_keys.1'],
    ['ssh.authorized_keys', ['-----BEGIN OPENSSH PRIVATE KEY-----'], 'ssh.authorized_keys.0'],
    ['ssh.authorized_keys', Array(33).fill(ED25519_KEY), '/ssh/authorized_keys'],
    ['ssh.password_login', 'no', '/ssh/password_login'],
    ['user.name', 'Crew', '/user/name'],
    ['user.name', '1crew', '/user/name'],
    ['user.name', 'x'.repeat(33), '/user/name'],
    ['user.name', 'root', 'user.name'],
    ['user.password_hash', 'secret123', '/user/password_hash'],
    ['user.password_hash', '$1$abcdefgh$0123456789abcdefghijkl', '/user/password_hash'],
    ['user.password_hash', SHA512_HASH.slice(0, -1), '/user/password_hash'],
    ['user.password_hash', `${YESCRYPT_HASH}x`, '/user/password_hash'],
    ['time_zone', 'Mars/Olympus_Mons', 'time_zone'],
    ['time_zone', '../etc/passwd', '/time_zone'],
    ['time_zone', 'Europe/Berlin; rm -rf /', '/time_zone'],
    ['keyboard.layout', 'DE', '/keyboard/layout'],
    ['keyboard.layout', 'd', '/keyboard/layout'],
    ['keyboard.variant', 'no dead keys', '/keyboard/variant'],
    ['locale', 'de_DE', '/locale'],
    ['locale', 'de_DE.ISO-8859-1', '/locale'],
    ['files.0.path', 'etc/kart.conf', 'files.0.path'],
    ['files.0.path', '/etc/../../root/x', 'files.0.path'],
    ['files.0.path', '/etc//kart.conf', 'files.0.path'],
    ['files.0.path', '/etc/kart/', 'files.0.path'],
    ['files.0.path', '/proc/sys/kernel/x', 'files.0.path'],
    ['files.0.path', '/boot/firmware/config.txt', 'files.0.path'],
    ['files.0.path', '/etc/{kart}.conf', 'files.0.path'],
    ['files.0.path', '/etc/a\nb', 'files.0.path'],
    ['files.1.path', FULL_PROFILE.files[0]!.path, 'files.1.path'],
    ['files.0.path', `/${'x'.repeat(255)}`, '/files/0/path'],
    ['files.0.mode', '755x', '/files/0/mode'],
    ['files.0.mode', '0999', '/files/0/mode'],
    ['files.0.mode', '04755', '/files/0/mode'],
    ['files.0.owner', 'crew:crew:crew', '/files/0/owner'],
    ['files.0.owner', 'Crew', '/files/0/owner'],
    ['files.0.content', 'x'.repeat(65_537), '/files/0/content'],
    ['files.0.content', 'kart={kartnumber}', 'files.0.content'],
    ['files', Array(33).fill(FULL_PROFILE.files[0]), '/files'],
    ['commands', [''], '/commands/0'],
    ['commands', ['echo a\necho b'], '/commands/0'],
    ['commands', ['echo {serial_number}'], 'commands.0'],
    ['commands', Array(33).fill('true'), '/commands'],
  ];
  it.each(bad)('refuse %s = %j (at %s)', (path, value, where) => {
    expect(refusals(withField(path, value))).toContain(where);
  });

  it('refuse unknown fields anywhere', () => {
    expect(refusals({ ...FULL_PROFILE, extra: 1 })).toContain('');
    expect(refusals(withField('wifi.security', 'wep'))).toContain('/wifi');
    expect(refusals(withField('files.0.group', 'x'))).toContain('/files/0');
  });

  it('answers each refused field once, with its hint, a required or an unknown field by name', () => {
    const { ssh: _ssh, ...withoutSsh } = FULL_PROFILE;
    const problems = profileInputProblems({ ...withoutSsh, wifi: { ssid: 'x', country: 'de', hidden: false, band: '5' }, files: [{ path: '/x', mode: '999', owner: 'root' }] });
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(expect.arrayContaining([
      { field: 'ssh', message: 'Required.' },
      { field: 'wifi', message: 'Unknown field "band".' },
      { field: 'wifi.country', message: hintOfField('wifi.country') },
      { field: 'files.0.content', message: 'Required.' },
      { field: 'files.0.mode', message: 'Octal permissions, e.g. 0644 or 0600.' },
    ]));
    expect(hintOfField('commands.12')).toBe('One line each, at most 2000 characters.');
    expect(profileInputProblems(withField('time_zone', 'Nowhere/Land'))).toEqual([{ field: 'time_zone', message: expect.stringMatching(/not a known time zone/) }]);
    expect(profileInputProblems(FULL_PROFILE)).toEqual([]);
    // A form shows all at once: the rules' problems beside the schema's.
    const both = profileInputProblems({ ...FULL_PROFILE, wifi: { ...FULL_PROFILE.wifi, passphrase: 'short' }, ssh: { authorized_keys: ['ssh-ed25519 AAAA'], password_login: false } });
    expect(both.map((p) => p.field).sort()).toEqual(['ssh.authorized_keys.0', 'wifi.passphrase']);
  });

  it('names what is wrong with a key and a path in the operator\'s words', () => {
    expect(publicKeyProblem(ED25519_KEY)).toBeNull();
    expect(publicKeyProblem(RSA_KEY)).toBeNull();
    expect(publicKeyProblem(`ssh-rsa ${ED25519_KEY.split(' ')[1]}`)).toBe('the key data is for ssh-ed25519, not ssh-rsa');
    expect(filePathProblem('/etc/../x')).toMatch(/may not leave the root filesystem/);
    expect(filePathProblem('/boot/firmware/x')).toMatch(/boot partition/);
    expect(filePathProblem('/etc/kart.conf')).toBeNull();
  });
});

describe('a profile for one device', () => {
  it('has every variable substituted in paths, owners, contents and commands, and stays a valid device profile', () => {
    const rendered = renderProfileForDevice(FULL_PROFILE, { hostname: 'KXP2-CORO-007', kart_number: '7', venue_code: 'CORO', serial: '10000000abcd', mac: 'dc:a6:32:00:00:07' });
    expect(rendered.files[0]!.content).toBe('venue=CORO\nkart=7\nhost=KXP2-CORO-007\nserial=10000000abcd\nmac=dc:a6:32:00:00:07\n');
    expect(rendered.files[1]!.path).toBe('/opt/camera/KXP2-CORO-007.json');
    expect(rendered.files[1]!.content).toBe('{"kart": "7"}\n');
    expect(rendered.commands).toEqual(['echo provisioned KXP2-CORO-007 >/var/log/pitcrew-provisioned']);
    expect(rendered.wifi).toEqual(FULL_PROFILE.wifi);
    expect(Value.Check(DeviceProvisioning, { ...rendered, revision_id: 3, revision: 2 })).toBe(true);
  });

  it('shows secrets to operators only as set or not', () => {
    const view = viewOfProfile(FULL_PROFILE);
    expect(JSON.stringify(view)).not.toContain(FULL_PROFILE.wifi!.passphrase);
    expect(JSON.stringify(view)).not.toContain(SHA512_HASH);
    expect(view.wifi).toEqual({ ssid: 'Venue Karts', country: 'DE', hidden: false, passphrase_set: true });
    expect(view.user).toEqual({ name: 'crew', password_hash_set: true });
    expect(viewOfProfile({ ...FULL_PROFILE, user: { name: 'crew', password_hash: null } }).user).toEqual({ name: 'crew', password_hash_set: false });
  });
});
