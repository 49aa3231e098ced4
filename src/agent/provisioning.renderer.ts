// Renders a device's provisioning profile (contracts/provisioning-profile.ts, variables already substituted by the
// server) into what the written image reads on first boot. Pure: it answers files, the caller writes them.
//   cloud-init   user-data keys (users, ssh_pwauth, ssh_authorized_keys, timezone, keyboard, locale, write_files,
//                runcmd) merged into the image's #cloud-config, and a network-config for Wi-Fi, as Raspberry Pi
//                Imager writes them;
//   rpi-preseed  (newest Raspberry Pi OS): [user], [ssh], [wlan], [locale] and [runcmd] tables merged into the
//                boot partition's rpi-preseed.toml (rpi-preseed(5)); the profile's files on the root filesystem;
//   firstrun     (Raspberry Pi OS Bookworm, systemd.run=firstrun.sh): a block in firstrun.sh written as Raspberry
//                Pi Imager writes it: Raspberry Pi OS's own helpers (imager_custom, userconf-pi's userconf) where the
//                image has them, plain commands where not; the profile's files on the root filesystem, and the
//                commands in a one-shot unit once the network is up (firstrun.sh runs before any network);
//   every other  files on the root filesystem where the OS reads them, plus one-shot systemd units for what needs
//   flavour      the running system (creating the user, owners of its files, locale generation; then the commands,
//                once the network is up); each removes itself after its run.
// YAML is written in its JSON form (valid YAML), so no value needs hand-quoting.
import { pbkdf2Sync } from 'node:crypto';
import type { Ext4Change } from '../disk-layout/ext4.volume.js';
import type { ProvisioningProfile } from '../contracts/provisioning-profile.js';

export const PROVISION_DIR = '/var/lib/pitcrew-provision';
export const PROVISION_SCRIPT = `${PROVISION_DIR}/provision.sh`;
export const PROVISION_UNIT = '/etc/systemd/system/pitcrew-provision.service';
export const PROVISION_UNIT_LINK = '/etc/systemd/system/multi-user.target.wants/pitcrew-provision.service';
export const COMMANDS_SCRIPT = `${PROVISION_DIR}/commands.sh`;
export const COMMANDS_UNIT = '/etc/systemd/system/pitcrew-provision-commands.service';
export const COMMANDS_UNIT_LINK = '/etc/systemd/system/multi-user.target.wants/pitcrew-provision-commands.service';
export const NM_CONNECTION = '/etc/NetworkManager/system-connections/pitcrew-wifi.nmconnection';
export const WPA_SUPPLICANT_CONF = '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf';
export const IFUPDOWN_WLAN = '/etc/network/interfaces.d/pitcrew-wlan0';
export const SSHD_DROP_IN = '/etc/ssh/sshd_config.d/50-pitcrew.conf';
const STAGED_KEYS = `${PROVISION_DIR}/authorized_keys`;

/** Root filesystem paths whose presence decides how Wi-Fi is configured. */
export const NETWORK_MANAGER_PROBES = ['/usr/sbin/NetworkManager', '/usr/lib/systemd/system/NetworkManager.service', '/lib/systemd/system/NetworkManager.service'];

export interface RootFacts {
  /** NetworkManager is installed: it ignores wpa_supplicant and ifupdown files and reads its own keyfiles. */
  hasNetworkManager: boolean;
}

/** POSIX shell single-quoting. */
export const shellQuote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));
const parseMode = (mode: string): number => parseInt(mode, 8);
const isRoot = (owner: string): boolean => owner === 'root' || owner === 'root:root';

// ── the fallback: files plus a one-shot unit ────────────────────────────────────────────────────────

/** Every root filesystem change for an image without cloud-init (plain Debian, Raspberry Pi OS before Trixie). */
export function renderRootFiles(profile: ProvisioningProfile, facts: RootFacts): Ext4Change[] {
  const changes: Ext4Change[] = [];
  const file = (path: string, content: string, mode = 0o644) => changes.push({ kind: 'file', path, content, mode });

  if (profile.wifi) {
    if (facts.hasNetworkManager) file(NM_CONNECTION, networkManagerKeyfile(profile.wifi), 0o600);
    else {
      file(WPA_SUPPLICANT_CONF, wpaSupplicantConf(profile.wifi), 0o600);
      file(IFUPDOWN_WLAN, `# Written by the Pitcrew installer: the venue's Wi-Fi.\nallow-hotplug wlan0\niface wlan0 inet dhcp\n    wpa-conf ${WPA_SUPPLICANT_CONF}\n`);
    }
  }
  const keys = profile.ssh.authorized_keys.map((key) => key.trim()).join('\n');
  // Without a user the keys are root's; a user's are installed by the unit once the user (and its uid) exists.
  if (keys && !profile.user) file('/root/.ssh/authorized_keys', `${keys}\n`, 0o600);
  if (keys && profile.user) file(STAGED_KEYS, `${keys}\n`, 0o600);
  file(SSHD_DROP_IN, sshdDropIn(profile.ssh.password_login));
  if (profile.time_zone) {
    file('/etc/timezone', `${profile.time_zone}\n`);
    changes.push({ kind: 'symlink', path: '/etc/localtime', target: `/usr/share/zoneinfo/${profile.time_zone}` });
  }
  if (profile.keyboard) file('/etc/default/keyboard', keyboardFile(profile.keyboard));
  if (profile.locale) file('/etc/default/locale', `LANG=${profile.locale}\n`);
  for (const placed of profile.files) file(placed.path, placed.content, parseMode(placed.mode));

  file(PROVISION_SCRIPT, provisionScript(profile), 0o700);
  file(PROVISION_UNIT, PROVISION_UNIT_TEXT);
  changes.push({ kind: 'symlink', path: PROVISION_UNIT_LINK, target: PROVISION_UNIT });
  changes.push(...commandsUnitChanges(profile.commands));
  return changes;
}

const keyboardFile = (keyboard: NonNullable<ProvisioningProfile['keyboard']>): string =>
  `XKBMODEL="pc105"\nXKBLAYOUT="${keyboard.layout}"\nXKBVARIANT="${keyboard.variant}"\nXKBOPTIONS=""\nBACKSPACE="guess"\n`;

const sshdDropIn = (passwordLogin: boolean): string => {
  const password = passwordLogin ? 'yes' : 'no';
  return `# Written by the Pitcrew installer.\nPasswordAuthentication ${password}\nKbdInteractiveAuthentication ${password}\n`;
};

/** The commands' script and its one-shot unit, enabled; nothing without commands. */
function commandsUnitChanges(commands: readonly string[]): Ext4Change[] {
  if (!commands.length) return [];
  return [
    { kind: 'file', path: COMMANDS_SCRIPT, content: commandsScript(commands), mode: 0o700 },
    { kind: 'file', path: COMMANDS_UNIT, content: COMMANDS_UNIT_TEXT, mode: 0o644 },
    { kind: 'symlink', path: COMMANDS_UNIT_LINK, target: COMMANDS_UNIT },
  ];
}

/** A GLib key file value: backslash is its escape character, and a leading space would be trimmed. */
export const keyfileValue = (text: string): string => text.replaceAll('\\', '\\\\').replace(/^ /, '\\s');

export function networkManagerKeyfile(wifi: NonNullable<ProvisioningProfile['wifi']>): string {
  // The schema allows no line breaks or control characters in the SSID or the passphrase.
  return [
    '[connection]', 'id=pitcrew-wifi', 'type=wifi', 'autoconnect=true', '',
    '[wifi]', 'mode=infrastructure', `ssid=${keyfileValue(wifi.ssid)}`, ...(wifi.hidden ? ['hidden=true'] : []), '',
    '[wifi-security]', 'key-mgmt=wpa-psk', `psk=${keyfileValue(wifi.passphrase)}`, '',
    '[ipv4]', 'method=auto', '', '[ipv6]', 'method=auto', '',
  ].join('\n');
}

/**
 * wpa_supplicant has no escapes in its quoted strings, so both go in as hex: the SSID's bytes, and the PSK derived
 * from the passphrase as wpa_passphrase does (PBKDF2-SHA1, the SSID as salt, 4096 rounds, 32 bytes).
 */
export const wpaPsk = (wifi: NonNullable<ProvisioningProfile['wifi']>): string =>
  pbkdf2Sync(wifi.passphrase, Buffer.from(wifi.ssid, 'utf8'), 4096, 32, 'sha1').toString('hex');

export function wpaSupplicantConf(wifi: NonNullable<ProvisioningProfile['wifi']>): string {
  const ssid = Buffer.from(wifi.ssid, 'utf8');
  return [
    'ctrl_interface=DIR=/run/wpa_supplicant GROUP=netdev',
    'update_config=1',
    `country=${wifi.country}`,
    '',
    'network={',
    `    ssid=${ssid.toString('hex')}`,
    ...(wifi.hidden ? ['    scan_ssid=1'] : []),
    `    psk=${wpaPsk(wifi)}`,
    '    key_mgmt=WPA-PSK',
    '}',
    '',
  ].join('\n');
}

// Two one-shot units: the system settings before anyone can log in (no network needed, so a venue without it does
// not hold them back), then the operator's commands once the network is up (they often fetch something).
export const PROVISION_UNIT_TEXT = [
  '# Written by the Pitcrew installer: provisions this device once, on its first boot, then removes itself.',
  '[Unit]',
  'Description=Pitcrew first-boot provisioning',
  `ConditionPathExists=${PROVISION_SCRIPT}`,
  'After=local-fs.target',
  'Before=ssh.service sshd.service systemd-user-sessions.service',
  '',
  '[Service]',
  'Type=oneshot',
  `ExecStart=/bin/sh ${PROVISION_SCRIPT}`,
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

export const COMMANDS_UNIT_TEXT = [
  '# Written by the Pitcrew installer: runs the first-boot commands once, then removes itself.',
  '[Unit]',
  'Description=Pitcrew first-boot commands',
  `ConditionPathExists=${COMMANDS_SCRIPT}`,
  'After=network-online.target pitcrew-provision.service',
  'Wants=network-online.target',
  '',
  '[Service]',
  'Type=oneshot',
  `ExecStart=/bin/sh ${COMMANDS_SCRIPT}`,
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

/** Each command in its own shell, in order; a failing one is logged and the rest still run. */
export function commandsScript(commands: readonly string[]): string {
  return [
    '#!/bin/sh',
    '# Written by the Pitcrew installer: the profile\'s first-boot commands, run once as root.',
    ...commands.map((command) => `sh -c ${shellQuote(command)} || echo "pitcrew-provision: command failed: "${shellQuote(command)}`),
    '',
    `rm -f ${COMMANDS_UNIT_LINK} ${COMMANDS_UNIT}`,
    `rm -rf ${PROVISION_DIR}`,
    'exit 0',
    '',
  ].join('\n');
}

/** Gives a placed file to its owner; the failure message is quoted too, as a path may hold shell syntax. */
const chownLine = (who: string, placed: ProvisioningProfile['files'][number]): string =>
  `chown ${shellQuote(placed.owner)} ${shellQuote(placed.path)} || echo ${shellQuote(`${who}: could not give ${placed.path} to ${placed.owner}`)}`;

export function provisionScript(profile: ProvisioningProfile): string {
  const lines = ['#!/bin/sh', '# Written by the Pitcrew installer: first-boot provisioning. Runs once; each step says what failed.', 'set +e', ''];
  if (profile.wifi) lines.push(`command -v iw >/dev/null && iw reg set ${profile.wifi.country}`);
  if (profile.user) {
    const name = shellQuote(profile.user.name);
    lines.push(
      `id -u ${name} >/dev/null 2>&1 || useradd -m -s /bin/bash ${name} || echo "pitcrew-provision: could not create user ${profile.user.name}"`,
      `for group in sudo adm; do getent group "$group" >/dev/null && usermod -aG "$group" ${name}; done`,
    );
    if (profile.user.password_hash) lines.push(`echo ${shellQuote(`${profile.user.name}:${profile.user.password_hash}`)} | chpasswd -e || echo "pitcrew-provision: could not set the password"`);
    if (profile.ssh.authorized_keys.length) {
      lines.push(
        `home=$(getent passwd ${name} | cut -d: -f6)`,
        `install -d -m 700 -o ${name} -g "$(id -g ${name})" "$home/.ssh"`,
        `install -m 600 -o ${name} -g "$(id -g ${name})" ${STAGED_KEYS} "$home/.ssh/authorized_keys"`,
      );
    }
  }
  for (const placed of profile.files) if (!isRoot(placed.owner)) lines.push(chownLine('pitcrew-provision', placed));
  if (profile.locale) {
    const locale = profile.locale;
    lines.push(
      `if [ -f /etc/locale.gen ] && command -v locale-gen >/dev/null; then`,
      `  grep -q '^${locale} UTF-8' /etc/locale.gen || echo '${locale} UTF-8' >>/etc/locale.gen`,
      '  locale-gen',
      'fi',
    );
  }
  if (profile.keyboard) lines.push('command -v setupcon >/dev/null && setupcon -k --force');
  // The commands' unit still needs the folder; it removes it after its run.
  const leftovers = profile.commands.length ? [`rm -f ${PROVISION_SCRIPT} ${STAGED_KEYS}`] : [`rm -rf ${PROVISION_DIR}`];
  lines.push('', `rm -f ${PROVISION_UNIT_LINK} ${PROVISION_UNIT}`, ...leftovers, 'exit 0', '');
  return lines.join('\n');
}

// ── firstrun.sh ───────────────────────────────────────────────────────────────────────────────────

/** The line that opens the installer's hostname block in firstrun.sh; the provisioning block follows that block. */
export const FIRSTRUN_HOSTNAME_MARK = '# pitcrew: hostname';
export const FIRSTRUN_PROVISIONING_MARK = '# pitcrew: provisioning';
export const FIRSTRUN_PROVISIONING_END = '# pitcrew: end of provisioning';
export const IMAGER_CUSTOM = '/usr/lib/raspberrypi-sys-mods/imager_custom';
export const USERCONF = '/usr/lib/userconf-pi/userconf';
/** The groups Raspberry Pi OS gives its first user; those an image lacks are left out at first boot. */
const FIRST_USER_GROUPS = ['sudo', 'adm', 'users', 'dialout', 'audio', 'video', 'plugdev', 'netdev', 'input', 'gpio', 'i2c', 'spi', 'render'];

/** Root filesystem changes beside the firstrun.sh block: the profile's files, the sshd drop-in and the commands' unit. */
export function renderFirstrunRootFiles(profile: ProvisioningProfile): Ext4Change[] {
  return [...renderPreseedRootFiles(profile), ...commandsUnitChanges(profile.commands)];
}

/**
 * The profile as firstrun.sh commands (POSIX sh, run as root by systemd.run= before the network is up), in Raspberry
 * Pi Imager's way: each step through Raspberry Pi OS's helper where the image has it, else plain commands. The user
 * goes through userconf-pi, which also retires Raspberry Pi OS's own first-boot user wizard.
 */
export function firstrunProvisioningBlock(profile: ProvisioningProfile, facts: RootFacts): string {
  const lines = [
    FIRSTRUN_PROVISIONING_MARK,
    `IMAGER_CUSTOM=${IMAGER_CUSTOM}`,
    'FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)',
  ];
  if (profile.user) lines.push(...firstrunUser(profile.user));
  lines.push(...firstrunSsh(profile));
  if (profile.wifi) lines.push(...firstrunWifi(profile.wifi, facts));
  if (profile.time_zone) {
    const zone = shellQuote(profile.time_zone);
    lines.push(
      'if [ -f "$IMAGER_CUSTOM" ]; then',
      `  "$IMAGER_CUSTOM" set_timezone ${zone}`,
      'else',
      `  ln -sf /usr/share/zoneinfo/${profile.time_zone} /etc/localtime`,
      `  echo ${zone} >/etc/timezone`,
      'fi',
    );
  }
  if (profile.keyboard) {
    const { layout, variant } = profile.keyboard;
    lines.push('if [ -f "$IMAGER_CUSTOM" ]; then', `  "$IMAGER_CUSTOM" set_keymap ${shellQuote(layout)}`);
    // imager_custom sets the layout only.
    if (variant) lines.push(`  sed -i 's/^XKBVARIANT=.*/XKBVARIANT="${variant}"/' /etc/default/keyboard`);
    lines.push('else', ...heredoc('/etc/default/keyboard', keyboardFile(profile.keyboard)), '  command -v dpkg-reconfigure >/dev/null && dpkg-reconfigure -f noninteractive keyboard-configuration', 'fi');
  }
  if (profile.locale) {
    const locale = profile.locale;
    lines.push(
      `echo 'LANG=${locale}' >/etc/default/locale`,
      'if [ -f /etc/locale.gen ]; then',
      `  grep -q '^${locale} UTF-8' /etc/locale.gen || echo '${locale} UTF-8' >>/etc/locale.gen`,
      '  command -v locale-gen >/dev/null && locale-gen',
      'fi',
    );
  }
  for (const placed of profile.files) if (!isRoot(placed.owner)) lines.push(chownLine('firstrun', placed));
  lines.push(FIRSTRUN_PROVISIONING_END);
  return lines.join('\n');
}

/** A file written by the script (quoted delimiter: nothing in it is expanded; no profile value holds a line break). */
const heredoc = (path: string, content: string): string[] => [`  cat >${path} <<'PITCREW_EOF'`, ...content.replace(/\n$/, '').split('\n'), 'PITCREW_EOF'];

function firstrunUser(user: NonNullable<ProvisioningProfile['user']>): string[] {
  const name = shellQuote(user.name);
  // Without a hash, the password stays as the image has it (userconf is then given the name alone).
  const hash = user.password_hash ? shellQuote(user.password_hash) : null;
  return [
    'if [ -f /usr/lib/userconf-pi/userconf ] && [ -n "$FIRSTUSER" ]; then',
    `  ${USERCONF} ${name}${hash ? ` ${hash}` : ''}`,
    'else',
    `  if [ -n "$FIRSTUSER" ] && [ "$FIRSTUSER" != ${name} ] && ! id -u ${name} >/dev/null 2>&1; then`,
    `    usermod -l ${name} "$FIRSTUSER"`,
    `    usermod -m -d /home/${user.name} ${name}`,
    `    groupmod -n ${name} "$FIRSTUSER"`,
    '    [ -f /etc/sudoers.d/010_pi-nopasswd ] && sed -i "s/^$FIRSTUSER /' + user.name + ' /" /etc/sudoers.d/010_pi-nopasswd',
    `  elif ! id -u ${name} >/dev/null 2>&1; then`,
    `    useradd -m -s /bin/bash ${name}`,
    `    for group in ${FIRST_USER_GROUPS.join(' ')}; do getent group "$group" >/dev/null && usermod -aG "$group" ${name}; done`,
    '  fi',
    ...(hash ? [`  echo ${name}:${hash} | chpasswd -e`] : []),
    'fi',
  ];
}

function firstrunSsh(profile: ProvisioningProfile): string[] {
  const keys = profile.ssh.authorized_keys.map((key) => key.trim());
  if (!keys.length && !profile.ssh.password_login) return [];
  // The keys' owner: the profile's user, else Raspberry Pi OS's first user, else root.
  const owner = profile.user ? shellQuote(profile.user.name) : '"${FIRSTUSER:-root}"';
  const mode = profile.ssh.password_login ? '-p' : '-k';
  return [
    `SSH_USER=${owner}`,
    // imager_custom installs keys for the first user (uid 1000) only.
    'if [ -f "$IMAGER_CUSTOM" ] && [ "$(getent passwd 1000 | cut -d: -f1)" = "$SSH_USER" ]; then',
    `  "$IMAGER_CUSTOM" enable_ssh ${[mode, ...keys.map(shellQuote)].join(' ')}`,
    'else',
    ...(keys.length ? [
      '  SSH_HOME=$(getent passwd "$SSH_USER" | cut -d: -f6)',
      '  SSH_GROUP=$(id -g "$SSH_USER")',
      '  mkdir -p "$SSH_HOME/.ssh"',
      '  chown "$SSH_USER:$SSH_GROUP" "$SSH_HOME/.ssh"',
      '  chmod 700 "$SSH_HOME/.ssh"',
      `  printf '%s\\n' ${keys.map(shellQuote).join(' ')} >"$SSH_HOME/.ssh/authorized_keys"`,
      '  chown "$SSH_USER:$SSH_GROUP" "$SSH_HOME/.ssh/authorized_keys"',
      '  chmod 600 "$SSH_HOME/.ssh/authorized_keys"',
    ] : []),
    '  systemctl enable ssh',
    'fi',
  ];
}

function firstrunWifi(wifi: NonNullable<ProvisioningProfile['wifi']>, facts: RootFacts): string[] {
  // imager_custom takes the PSK derived from the passphrase, as Imager passes it.
  const lines = [
    'if [ -f "$IMAGER_CUSTOM" ]; then',
    `  "$IMAGER_CUSTOM" set_wlan ${[...(wifi.hidden ? ['-h'] : []), shellQuote(wifi.ssid), wpaPsk(wifi), wifi.country].join(' ')}`,
    'else',
  ];
  // NetworkManager takes the 64-digit PSK as well: the passphrase itself stays off the boot partition.
  if (facts.hasNetworkManager) lines.push(`  mkdir -p ${dirOf(NM_CONNECTION)}`, ...heredoc(NM_CONNECTION, networkManagerKeyfile({ ...wifi, passphrase: wpaPsk(wifi) })), `  chmod 600 ${NM_CONNECTION}`);
  else {
    lines.push(
      `  mkdir -p ${dirOf(WPA_SUPPLICANT_CONF)} ${dirOf(IFUPDOWN_WLAN)}`,
      ...heredoc(WPA_SUPPLICANT_CONF, wpaSupplicantConf(wifi)),
      `  chmod 600 ${WPA_SUPPLICANT_CONF}`,
      ...heredoc(IFUPDOWN_WLAN, `allow-hotplug wlan0\niface wlan0 inet dhcp\n    wpa-conf ${WPA_SUPPLICANT_CONF}\n`),
    );
  }
  lines.push(
    '  command -v rfkill >/dev/null && rfkill unblock wifi',
    '  for state in /var/lib/systemd/rfkill/*:wlan; do [ -f "$state" ] && echo 0 >"$state"; done',
    'fi',
  );
  return lines;
}

// ── rpi-preseed ───────────────────────────────────────────────────────────────────────────────────

type TomlValue = string | boolean | string[];
export type TomlSection = [name: string, entries: Array<[key: string, value: TomlValue]>];

/**
 * A TOML basic string as rpi-preseed's own parser reads it: it undoes \\ and \" only, so nothing else may need
 * escaping (the profile's schema keeps line breaks and control characters out of every value).
 */
export function tomlString(text: string): string {
  // Tab is the one control character a TOML basic string may hold as it is.
  if ([...text].some((char) => char !== '\t' && (char < ' ' || char === '\u007f'))) throw new Error('a value for rpi-preseed.toml holds a control character');
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
const tomlValue = (value: TomlValue): string =>
  typeof value === 'boolean' ? String(value) : Array.isArray(value) ? `[${value.map(tomlString).join(', ')}]` : tomlString(value);

/**
 * rpi-preseed.toml's tables for the profile (rpi-preseed(5)): [user] renames the image's first user (uid 1000) with a
 * crypt hash; [ssh] its keys and password login; [wlan] the PSK derived from the passphrase (so the passphrase itself
 * is never on the card); [locale]; [runcmd] early (after the user exists: file owners) and late (after the network:
 * the commands). The files themselves have no field there and go on the root filesystem.
 */
export function preseedSections(profile: ProvisioningProfile): TomlSection[] {
  const sections: TomlSection[] = [];
  if (profile.user) {
    sections.push(['user', [
      ['name', profile.user.name],
      ...(profile.user.password_hash ? [['password', profile.user.password_hash], ['password_encrypted', true]] as Array<[string, TomlValue]> : []),
      ['groups', ['sudo', 'adm']],
    ]]);
  }
  const keys = profile.ssh.authorized_keys.map((key) => key.trim());
  if (keys.length || profile.ssh.password_login) {
    sections.push(['ssh', [['enabled', true], ['password_authentication', profile.ssh.password_login], ...(keys.length ? [['authorized_keys', keys]] as Array<[string, TomlValue]> : [])]]);
  }
  if (profile.wifi) {
    const wifi = profile.wifi;
    sections.push(['wlan', [['ssid', wifi.ssid], ['password', wpaPsk(wifi)], ['password_encrypted', true], ['key_mgmt', 'wpa-psk'], ['hidden', wifi.hidden], ['country', wifi.country]]]);
  }
  const locale: Array<[string, TomlValue]> = [];
  if (profile.time_zone) locale.push(['timezone', profile.time_zone]);
  if (profile.keyboard) locale.push(['keymap', profile.keyboard.layout], ...(profile.keyboard.variant ? [['keymap_variant', profile.keyboard.variant]] as Array<[string, TomlValue]> : []));
  if (profile.locale) locale.push(['locales', [profile.locale]], ['lang', profile.locale]);
  if (locale.length) sections.push(['locale', locale]);
  const owners = profile.files.filter((placed) => !isRoot(placed.owner)).map((placed) => `chown ${shellQuote(placed.owner)} ${shellQuote(placed.path)}`);
  const runcmd: Array<[string, TomlValue]> = [];
  if (owners.length) runcmd.push(['early', owners]);
  if (profile.commands.length) runcmd.push(['late', [...profile.commands]]);
  if (runcmd.length) sections.push(['runcmd', runcmd]);
  return sections;
}

const TOML_HEADER = /^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$/;

/** Replaces (or adds) whole tables of a TOML document, keeping everything else (dotted keys of a replaced table too go). */
export function setTomlSections(document: string, sections: readonly TomlSection[]): string {
  let lines = document.replace(/\n+$/, '').split('\n');
  for (const [name, entries] of sections) {
    const kept: string[] = [];
    let table: string | null = null;
    for (const line of lines) {
      const header = TOML_HEADER.exec(line);
      if (header) table = header[1]!;
      const inReplaced = table === name;
      const dottedAtTop = table === null && new RegExp(`^\\s*${name}\\.`).test(line);
      if (!inReplaced && !dottedAtTop) kept.push(line);
    }
    while (kept.length && kept.at(-1)!.trim() === '') kept.pop();
    lines = [...kept, ...(kept.length ? [''] : []), `[${name}]`, ...entries.map(([key, value]) => `${key} = ${tomlValue(value)}`)];
  }
  return lines.join('\n') + '\n';
}

/** Root filesystem changes beside rpi-preseed.toml: the profile's files and the sshd drop-in. */
export function renderPreseedRootFiles(profile: ProvisioningProfile): Ext4Change[] {
  return [
    { kind: 'file', path: SSHD_DROP_IN, content: sshdDropIn(profile.ssh.password_login), mode: 0o644 },
    ...profile.files.map((placed): Ext4Change => ({ kind: 'file', path: placed.path, content: placed.content, mode: parseMode(placed.mode) })),
  ];
}

// ── cloud-init ────────────────────────────────────────────────────────────────────────────────────

/** Replaces (or adds) top-level keys of a #cloud-config document, each with its block, keeping everything else. */
export function setCloudConfigKeys(document: string, entries: ReadonlyArray<[string, unknown]>): string {
  let lines = document.replace(/\n+$/, '').split('\n');
  for (const [key, value] of entries) {
    const at = lines.findIndex((l) => l.startsWith(`${key}:`));
    if (at !== -1) {
      // The key's block: its line, then indented lines, block-sequence items and blank lines up to the next key.
      let end = at + 1;
      while (end < lines.length && (/^(\s|-\s|-$)/.test(lines[end]!) || lines[end]!.trim() === '')) end += 1;
      lines = [...lines.slice(0, at), ...lines.slice(end)];
    }
    lines.push(`${key}: ${JSON.stringify(value)}`);
  }
  return lines.join('\n') + '\n';
}

/** The user-data keys for the profile (the caller has already merged the hostname). */
export function cloudInitKeys(profile: ProvisioningProfile): Array<[string, unknown]> {
  const keys = profile.ssh.authorized_keys.map((key) => key.trim());
  const entries: Array<[string, unknown]> = [['ssh_pwauth', profile.ssh.password_login]];
  if (profile.user) {
    entries.push(['users', ['default', {
      name: profile.user.name,
      shell: '/bin/bash',
      groups: ['sudo', 'adm'],
      lock_passwd: profile.user.password_hash === null,
      ...(profile.user.password_hash ? { hashed_passwd: profile.user.password_hash } : {}),
      ...(keys.length ? { ssh_authorized_keys: keys } : {}),
    }]]);
  } else if (keys.length) {
    entries.push(['ssh_authorized_keys', keys]);
  }
  if (profile.time_zone) entries.push(['timezone', profile.time_zone]);
  if (profile.keyboard) entries.push(['keyboard', { layout: profile.keyboard.layout, ...(profile.keyboard.variant ? { variant: profile.keyboard.variant } : {}) }]);
  if (profile.locale) entries.push(['locale', profile.locale]);
  // defer: after users are created, so a file may belong to the profile's user.
  if (profile.files.length) entries.push(['write_files', profile.files.map((f) => ({ path: f.path, content: f.content, permissions: f.mode.padStart(4, '0'), owner: f.owner, defer: true }))]);
  if (profile.commands.length) entries.push(['runcmd', profile.commands]);
  return entries;
}

/** NoCloud network-config (version 2): wired DHCP as before, and the venue's Wi-Fi. */
export function cloudInitNetworkConfig(wifi: NonNullable<ProvisioningProfile['wifi']>): string {
  const config = {
    network: {
      version: 2,
      ethernets: { eth0: { dhcp4: true, optional: true } },
      wifis: { wlan0: { dhcp4: true, optional: true, 'regulatory-domain': wifi.country, 'access-points': { [wifi.ssid]: { password: wifi.passphrase, ...(wifi.hidden ? { hidden: true } : {}) } } } },
    },
  };
  return `# Written by the Pitcrew installer.\n${JSON.stringify(config, null, 2)}\n`;
}
