// Gives the written disk its hostname for first boot, without mounting anything, after making it a machine of its
// own (clone.generalizer.ts: machine-id, SSH host keys, leases, logs …) unless the image turns that off. The root
// filesystem is inspected to learn which first-boot mechanism the image really runs
// (src/disk-layout/first-boot.detector.ts), and that mechanism is fed the way Raspberry Pi Imager feeds it:
//   rpi-preseed  (newest Raspberry Pi OS): [system] hostname in /boot/firmware/rpi-preseed.toml; the
//                rpi-preseed.service unit enabled and no stale "applied" stamp, so it runs exactly once;
//   cloud-init   (Trixie): hostname in user-data, a fresh instance-id in meta-data (cloud-init runs its
//                per-instance modules once per id) and ds=nocloud on cmdline.txt;
//   firstrun     (Bookworm): firstrun.sh on the boot partition, started by systemd.run= on cmdline.txt; the
//                script deletes itself and strips those arguments, so it runs once.
// The venue's provisioning profile goes through the same mechanism (first-boot.provisioning.ts).
// /etc/hostname and /etc/hosts are written on the root filesystem in every case, so the name holds even on an
// image without any first-boot hook (the result's warnings then say so). Everything written is read back and compared.
import { asCustomizeError, InstallerError } from './installer.errors.js';
import { Ext4Volume, type Ext4Change, type Ext4Entry } from '../disk-layout/ext4.volume.js';
import { inspectFirstBoot, PRESEED_STAMPS, wantsLinkOf } from '../disk-layout/first-boot.detector.js';
import type { FirstBootFlavour } from '../contracts/first-boot.js';
import { FatVolume } from '../disk-layout/fat.volume.js';
import { detectFilesystem, type PartitionEntry, type PartitionTable } from './partition-table.parser.js';
import { isValidHostname } from './device-api.client.js';
import { generalizeClone } from '../disk-layout/clone.generalizer.js';
import type { GeneralizationStep } from '../contracts/generalization.js';
import type { ProvisioningProfile } from '../contracts/provisioning-profile.js';
import { addProvisioning } from './first-boot.provisioning.js';
import { FIRSTRUN_HOSTNAME_MARK } from './provisioning.renderer.js';
import { checkinChanges, type CheckinSetup } from './first-boot.checkin.js';

export interface CustomizeOptions {
  devicePath: string;
  table: PartitionTable;
  /** Reads bytes of the disk as it now holds them (used to recognise each partition's filesystem). */
  readDisk: (position: number, length: number) => Promise<Buffer>;
  hostname: string;
  /** Unique per deployment: cloud-init treats a new instance-id as a new machine and runs first-boot modules. */
  instanceId: string;
  /** Make the clone a machine of its own first (clone.generalizer.ts); the image's switch, on unless turned off. */
  generalize?: boolean;
  /** The venue's provisioning profile for this device (variables substituted), rendered for the image's first boot. */
  provisioning?: ProvisioningProfile | null;
  /** Add the first-boot check-in (first-boot.checkin.ts); absent when the server asked for none. */
  checkin?: CheckinSetup | null;
}

export interface CustomizeResult {
  flavour: FirstBootFlavour;
  /** Where the OS mounts the boot partition. */
  bootMount: string;
  bootPartition: number;
  rootPartition: number;
  /** Every file written, as "boot:/name" or "root:/path". */
  written: string[];
  /** For the deployment: signs of a mechanism that could not be used, or none at all (hostname only in /etc/hostname). */
  warnings: string[];
  /** Each generalisation step, done or skipped and why; null when the image has generalisation turned off. */
  generalization: GeneralizationStep[] | null;
}

const FIRSTRUN_ARGS = ['systemd.run_success_action=reboot', 'systemd.unit=kernel-command-line.target'];

/** systemd-firstboot, packaged, and where a link to /dev/null masks it. */
const SYSTEMD_FIRSTBOOT_UNITS = ['/usr/lib/systemd/system/systemd-firstboot.service', '/lib/systemd/system/systemd-firstboot.service'];
const SYSTEMD_FIRSTBOOT_MASK = '/etc/systemd/system/systemd-firstboot.service';
/** systemd-firstboot(1): with this on the kernel command line it asks nothing, whatever is left unset. */
const FIRSTBOOT_NO_QUESTIONS = 'systemd.firstboot=off';

const ROOT_PROBES = ['/etc/hosts', ...SYSTEMD_FIRSTBOOT_UNITS, SYSTEMD_FIRSTBOOT_MASK];
const BOOT_PROBES = ['rpi-preseed.toml', 'user-data', 'meta-data', 'firstrun.sh'];

/** What could not be read or written on the card fails the installation as a customisation (CUSTOMIZE). */
export function customizeFirstBoot(options: CustomizeOptions): Promise<CustomizeResult> {
  return writeFirstBoot(options).catch((error: unknown) => {
    throw asCustomizeError(error);
  });
}

async function writeFirstBoot(options: CustomizeOptions): Promise<CustomizeResult> {
  if (!isValidHostname(options.hostname)) throw new InstallerError('CUSTOMIZE', `refusing to write an invalid hostname: ${JSON.stringify(options.hostname)}`);
  const { boot, root } = await locatePartitions(options.table, options.readDisk);
  const fat = new FatVolume(options.devicePath, boot.startByte);
  const ext = new Ext4Volume(options.devicePath, root.startByte);
  await ext.checkClean();
  // Before the hostname: the unit it may enable and the files it writes are the device's own, not the master's.
  const generalization = options.generalize === false ? null : await generalizeClone(ext);

  const { plan, mount, root: rootNow, boot: bootNow } = await inspectFirstBoot(ext, fat, { rootPaths: ROOT_PROBES, bootFiles: BOOT_PROBES });
  const text = (name: string) => bootNow.get(name)?.toString('utf8') ?? null;
  const bootMount = mount.point;
  const flavour = plan.flavour;
  const bootFiles = new Map<string, string>();
  const rootChanges: Ext4Change[] = [];
  const hostname = options.hostname;

  rootChanges.push({ kind: 'file', path: '/etc/hostname', content: `${hostname}\n` });
  rootChanges.push({ kind: 'file', path: '/etc/hosts', content: rewriteHosts(rootNow.get('/etc/hosts')?.content?.toString('utf8') ?? null, hostname) });

  if (options.checkin) rootChanges.push(...checkinChanges(options.checkin));

  const cmdlineText = text('cmdline.txt');
  if (flavour !== 'none' && cmdlineText === null) throw new InstallerError('CUSTOMIZE', 'the boot partition has no cmdline.txt; this is not a Raspberry Pi OS image');

  if (flavour === 'rpi-preseed') {
    bootFiles.set('rpi-preseed.toml', mergePreseedToml(text('rpi-preseed.toml'), hostname));
    const wants = wantsLinkOf(plan.preseedUnit!);
    if (!rootNow.get(wants)) rootChanges.push({ kind: 'symlink', path: wants, target: plan.preseedUnit! });
    for (const stamp of PRESEED_STAMPS) if (rootNow.get(stamp)) rootChanges.push({ kind: 'remove', path: stamp });
  } else if (flavour === 'cloud-init') {
    bootFiles.set('user-data', mergeCloudInitUserData(text('user-data'), hostname));
    bootFiles.set('meta-data', renewMetaData(text('meta-data'), options.instanceId, hostname));
    bootFiles.set('cmdline.txt', addNoCloudDatasource(cmdlineText!, bootMount));
  } else if (flavour === 'firstrun') {
    const script = `${bootMount}/firstrun.sh`;
    const existingScript = text('firstrun.sh');
    const wired = cmdlineText!.includes(`systemd.run=${script}`);
    bootFiles.set('firstrun.sh', existingScript && wired ? insertIntoFirstrun(existingScript, hostname) : buildFirstrunScript(hostname, bootMount));
    if (!wired) bootFiles.set('cmdline.txt', addFirstrunArguments(cmdlineText!, script));
  }

  const warnings = [...plan.warnings];
  if (generalization) keepFirstBootQuiet(generalization, rootNow, bootFiles, cmdlineText, warnings);

  if (options.provisioning) await addProvisioning({ profile: options.provisioning, flavour, ext, bootFiles, rootChanges, bootText: text });

  // Boot files first: if the root edit then fails, the deployment fails and the card has no partition table.
  await fat.writeFiles(bootFiles);
  await ext.apply(rootChanges);

  await checkBootFiles(fat, bootFiles);
  await ext.checkApplied(rootChanges);
  if (bootFiles.has('cmdline.txt')) checkCmdline(bootFiles.get('cmdline.txt')!, flavour, bootMount, cmdlineText ?? '');

  return {
    flavour,
    bootMount,
    bootPartition: boot.number,
    rootPartition: root.number,
    written: [...[...bootFiles.keys()].map((name) => `boot:/${name}`), ...rootChanges.map((change) => `root:${change.path}`)],
    warnings,
    generalization,
  };
}

/**
 * Generalisation made this boot a first boot (machine-id "uninitialized"): systemd-firstboot then asks on the console
 * for whatever the image leaves unset (locale, time zone, root password), and a headless board waits there for ever.
 * systemd.firstboot=off on cmdline.txt keeps it from asking; what the image does set stays as it is. Images that are
 * first-boot images already (Raspberry Pi OS) were made to boot so, and are left alone. Said in the machine-id step.
 */
function keepFirstBootQuiet(
  generalization: GeneralizationStep[],
  root: ReadonlyMap<string, Ext4Entry>,
  bootFiles: Map<string, string>,
  cmdlineText: string | null,
  warnings: string[],
): void {
  const machineId = generalization.find((step) => step.step === 'machine-id');
  const asks = SYSTEMD_FIRSTBOOT_UNITS.some((unit) => root.get(unit)) && root.get(SYSTEMD_FIRSTBOOT_MASK)?.linkTarget !== '/dev/null';
  if (!machineId?.done || !asks) return;
  const cmdline = bootFiles.get('cmdline.txt') ?? cmdlineText;
  if (cmdline === null) {
    warnings.push('the image runs systemd-firstboot on the first boot generalisation gives it, and has no cmdline.txt to tell it not to ask: it may wait on the console for a locale, time zone or root password the image leaves unset');
    return;
  }
  if (cmdlineTokens(cmdline).some((token) => token.startsWith('systemd.firstboot='))) return;
  bootFiles.set('cmdline.txt', withFirstbootNoQuestions(cmdline));
  machineId.note = `${machineId.note}; systemd-firstboot asks nothing (${FIRSTBOOT_NO_QUESTIONS} on cmdline.txt)`.slice(0, 200);
}

/** Before any systemd.run argument: firstrun.sh strips everything from " systemd.run" to the end of the line. */
function withFirstbootNoQuestions(cmdline: string): string {
  const tokens = cmdlineTokens(cmdline);
  const at = tokens.findIndex((token) => token.startsWith('systemd.run'));
  tokens.splice(at === -1 ? tokens.length : at, 0, FIRSTBOOT_NO_QUESTIONS);
  return tokens.join(' ') + '\n';
}

async function locatePartitions(table: PartitionTable, readDisk: CustomizeOptions['readDisk']): Promise<{ boot: PartitionEntry; root: PartitionEntry }> {
  let boot: PartitionEntry | undefined;
  let root: PartitionEntry | undefined;
  for (const partition of table.partitions) {
    const kind = detectFilesystem(await readDisk(partition.startByte, 2048));
    if (kind === 'fat' && !boot) boot = partition;
    if (kind === 'ext' && !root) root = partition;
  }
  if (!boot) throw new InstallerError('CUSTOMIZE', 'the image has no FAT boot partition');
  if (!root) throw new InstallerError('CUSTOMIZE', 'the image has no ext4 root partition');
  return { boot, root };
}

/** Replaces the 127.0.1.1 line (Debian's own-hostname line), or adds one. */
export function rewriteHosts(existing: string | null, hostname: string): string {
  const lines = (existing ?? '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n').replace(/\n+$/, '').split('\n');
  const own = `127.0.1.1\t${hostname}`;
  let found = false;
  const out = lines.map((line) => {
    if (/^\s*127\.0\.1\.1\s/.test(line) || line.trim() === '127.0.1.1') {
      found = true;
      return own;
    }
    return line;
  });
  if (!found) out.push(own);
  return out.join('\n') + '\n';
}

/** Sets [system] hostname, keeping every other setting the image's maker put in the file. */
export function mergePreseedToml(existing: string | null, hostname: string): string {
  const line = `hostname = "${hostname}"`;
  if (!existing?.trim()) return `config_version = "1.0"\n\n[system]\n${line}\n`;
  const lines = existing.replace(/\n+$/, '').split('\n');
  const header = lines.findIndex((l) => /^\s*\[\s*system\s*\]\s*(#.*)?$/.test(l));
  const dotted = lines.findIndex((l, i) => /^\s*system\.hostname\s*=/.test(l) && (header === -1 || i < header));
  if (dotted !== -1) {
    lines[dotted] = `system.${line}`;
  } else if (header === -1) {
    lines.push('', '[system]', line);
  } else {
    let end = lines.findIndex((l, i) => i > header && /^\s*\[/.test(l));
    if (end === -1) end = lines.length;
    const existingKey = lines.findIndex((l, i) => i > header && i < end && /^\s*hostname\s*=/.test(l));
    if (existingKey !== -1) lines[existingKey] = line;
    else lines.splice(header + 1, 0, line);
  }
  return lines.join('\n') + '\n';
}

/** Sets the top-level hostname keys of a #cloud-config document, keeping the rest. */
export function mergeCloudInitUserData(existing: string | null, hostname: string): string {
  const text = existing?.trim() ? existing : '#cloud-config\n';
  const lines = text.replace(/\n+$/, '').split('\n');
  const meaningful = lines.filter((l) => l.trim() && !l.trim().startsWith('#'));
  if (!/^#cloud-config\s*$/.test(lines[0] ?? '') && meaningful.length > 0) {
    throw new InstallerError('CUSTOMIZE', 'the image\'s user-data is not a #cloud-config document; refusing to rewrite it');
  }
  if (!/^#cloud-config\s*$/.test(lines[0] ?? '')) lines.unshift('#cloud-config');
  const settings: Array<[string, string | null]> = [
    ['hostname', hostname],
    ['manage_etc_hosts', 'true'],
    ['preserve_hostname', 'false'],
    // cloud-init prefers fqdn over hostname; a stale one from the master image would win.
    ['fqdn', null],
    ['prefer_fqdn_over_hostname', null],
  ];
  let out = lines;
  for (const [key, value] of settings) {
    const at = out.findIndex((l) => new RegExp(`^${key}\\s*:`).test(l));
    if (value === null) {
      if (at !== -1) out = out.filter((_, i) => i !== at);
    } else if (at !== -1) out[at] = `${key}: ${value}`;
    else out.push(`${key}: ${value}`);
  }
  return out.join('\n') + '\n';
}

/** A fresh instance-id (and local-hostname); other keys such as dsmode are kept. */
export function renewMetaData(existing: string | null, instanceId: string, hostname: string): string {
  const kept = (existing ?? '')
    .split('\n')
    .filter((l) => l.trim() && !/^(instance[-_]id|local-hostname)\s*:/.test(l));
  return [`instance-id: ${instanceId}`, `local-hostname: ${hostname}`, ...kept].join('\n') + '\n';
}

const cmdlineTokens = (text: string): string[] => text.trim().split(/\s+/).filter(Boolean);

export function addNoCloudDatasource(cmdline: string, bootMount: string): string {
  const tokens = cmdlineTokens(cmdline);
  if (!tokens.some((t) => t.startsWith('ds='))) tokens.push(`ds=nocloud;s=file://${bootMount}/`);
  return tokens.join(' ') + '\n';
}

/** systemd.run must come last: the script removes everything from " systemd.run" to the end of the line. */
export function addFirstrunArguments(cmdline: string, script: string): string {
  const tokens = cmdlineTokens(cmdline).filter((t) => !t.startsWith('systemd.run') && !FIRSTRUN_ARGS.includes(t));
  return [...tokens, `systemd.run=${script}`, ...FIRSTRUN_ARGS].join(' ') + '\n';
}

const HOSTNAME_BLOCK_START = FIRSTRUN_HOSTNAME_MARK;

function hostnameBlock(hostname: string): string {
  return [
    HOSTNAME_BLOCK_START,
    `NEW_HOSTNAME='${hostname}'`,
    'if [ -x /usr/lib/raspberrypi-sys-mods/imager_custom ]; then',
    '  /usr/lib/raspberrypi-sys-mods/imager_custom set_hostname "$NEW_HOSTNAME"',
    'else',
    '  echo "$NEW_HOSTNAME" >/etc/hostname',
    '  sed -i "s/^127\\.0\\.1\\.1.*/127.0.1.1\\t$NEW_HOSTNAME/" /etc/hosts',
    'fi',
  ].join('\n');
}

export function buildFirstrunScript(hostname: string, bootMount: string): string {
  return [
    '#!/bin/bash',
    '# Written by the Pitcrew installer: sets this device\'s hostname on its first boot, then removes itself',
    '# and its systemd.run arguments from cmdline.txt so it never runs again.',
    'set +e',
    '',
    hostnameBlock(hostname),
    '',
    `rm -f ${bootMount}/firstrun.sh`,
    `sed -i 's| systemd.run.*||g' ${bootMount}/cmdline.txt`,
    'exit 0',
    '',
  ].join('\n');
}

/** The master image already carries a wired firstrun.sh: add the hostname right after its shebang. */
export function insertIntoFirstrun(existing: string, hostname: string): string {
  const lines = existing.split('\n');
  const start = lines.findIndex((l) => l === HOSTNAME_BLOCK_START);
  if (start !== -1) {
    const end = lines.findIndex((l, i) => i > start && l === 'fi');
    lines.splice(start, end - start + 1, hostnameBlock(hostname));
    return lines.join('\n');
  }
  const at = lines[0]?.startsWith('#!') ? 1 : 0;
  lines.splice(at, 0, hostnameBlock(hostname));
  return lines.join('\n');
}

async function checkBootFiles(fat: FatVolume, files: Map<string, string>): Promise<void> {
  const actual = await fat.readFiles([...files.keys()]);
  for (const [name, content] of files) {
    if (!actual.get(name)?.equals(Buffer.from(content))) throw new InstallerError('CUSTOMIZE', `boot:/${name} does not hold what was written to it`);
  }
}

/**
 * What was written to cmdline.txt holds what first boot needs. Arguments the image wired itself (firstrun.sh already
 * started by systemd.run=) are checked for being there, not for Imager's order; ours must end the line.
 */
function checkCmdline(cmdline: string, flavour: FirstBootFlavour, bootMount: string, imageCmdline: string): void {
  if (cmdline.trim().includes('\n')) throw new InstallerError('CUSTOMIZE', 'cmdline.txt must stay a single line');
  const tokens = cmdlineTokens(cmdline);
  const script = `systemd.run=${bootMount}/firstrun.sh`;
  if (flavour === 'cloud-init' && !tokens.some((t) => t.startsWith('ds='))) throw new InstallerError('CUSTOMIZE', 'cmdline.txt lacks the ds=nocloud datasource');
  if (flavour === 'firstrun') {
    const wiredByImage = cmdlineTokens(imageCmdline).includes(script);
    if (wiredByImage && !tokens.includes(script)) throw new InstallerError('CUSTOMIZE', `cmdline.txt lost the image's ${script}`);
    if (!wiredByImage && tokens.at(-FIRSTRUN_ARGS.length - 1) !== script) throw new InstallerError('CUSTOMIZE', 'cmdline.txt does not end with the firstrun.sh arguments');
  }
  const quiet = tokens.indexOf(FIRSTBOOT_NO_QUESTIONS);
  const firstRun = tokens.findIndex((t) => t.startsWith('systemd.run'));
  if (quiet !== -1 && firstRun !== -1 && quiet > firstRun) throw new InstallerError('CUSTOMIZE', `${FIRSTBOOT_NO_QUESTIONS} must come before the systemd.run arguments on cmdline.txt`);
}
