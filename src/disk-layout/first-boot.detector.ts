// Which first-boot mechanism the written image will really run, decided from its root filesystem (and cmdline.txt),
// not from a marker file alone: a mechanism counts only if its program and systemd unit are there, nothing disables
// or masks it, systemd is what the kernel starts, and the boot partition — where every mechanism reads what the
// installer writes for it — is mounted by /etc/fstab. Newest first: rpi-preseed, cloud-init, then firstrun.sh run by
// systemd.run= (Bookworm, Raspberry Pi Imager's way). When the image shows signs of a mechanism it cannot use (a
// package list without its unit, cloud-init disabled or without its seed folder, Imager's imager_custom on an image
// that cannot run firstrun.sh), or none can run at all, the plan carries warnings for the deployment: then the
// hostname may only be in /etc/hostname, where a first-boot service of the image can still overwrite it.
// The installer decides on each card it writes; the server decides the same way on a stored image when it is
// registered (inspectFirstBoot reads both partitions without mounting anything).
import type { FirstBootFlavour } from '../contracts/first-boot.js';
import type { Ext4Entry, Ext4Volume } from './ext4.volume.js';
import type { FatVolume } from './fat.volume.js';

const UNIT_DIRS = ['/usr/lib/systemd/system', '/lib/systemd/system'];
/** Units in /etc/systemd/system override packaged ones; a link to /dev/null there masks a unit. */
const LOCAL_UNITS = '/etc/systemd/system';

const PRESEED_UNITS = UNIT_DIRS.map((dir) => `${dir}/rpi-preseed.service`);
/** The link that enables a unit for multi-user.target: it must carry the unit's own name. */
export const wantsLinkOf = (unit: string): string => `${LOCAL_UNITS}/multi-user.target.wants/${unit.slice(unit.lastIndexOf('/') + 1)}`;
export const PRESEED_STAMPS = ['applied', 'apply-failed', 'early-runcmd-done', 'runcmd-done'].map((name) => `/var/lib/rpi-preseed/${name}`);
const PRESEED_PROGRAM = '/usr/bin/rpi-preseed';

const CLOUD_INIT_PROGRAM = '/usr/bin/cloud-init';
/** cloud-init's first stage, by the names it has had (cloud-init-main from 24.x on). */
const CLOUD_INIT_UNIT_NAMES = ['cloud-init-local.service', 'cloud-init-main.service', 'cloud-init.service'];
const CLOUD_INIT_UNITS = UNIT_DIRS.flatMap((dir) => CLOUD_INIT_UNIT_NAMES.map((name) => `${dir}/${name}`));
const CLOUD_INIT_CONFIG = '/etc/cloud/cloud.cfg';
const CLOUD_INIT_DISABLED = '/etc/cloud/cloud-init.disabled';

const SYSTEMD_PROGRAMS = ['/usr/lib/systemd/systemd', '/lib/systemd/systemd'];
/** What the kernel starts when cmdline.txt names no init=. */
const INIT_PATHS = ['/usr/sbin/init', '/sbin/init'];
/** Raspberry Pi OS's first boot resizes the root filesystem under this init, then reboots into systemd. */
const RASPBERRY_PI_FIRSTBOOT = '/usr/lib/raspberrypi-sys-mods/firstboot';
const IMAGER_CUSTOM = '/usr/lib/raspberrypi-sys-mods/imager_custom';

/** dpkg's list of each package's files: proof a package is installed, and where it put its units. */
const packageList = (name: string) => `/var/lib/dpkg/info/${name}.list`;

const masks = (units: readonly string[]) => units.map((unit) => `${LOCAL_UNITS}/${unit.slice(unit.lastIndexOf('/') + 1)}`);

/** Everything the decision reads first (one debugfs session). */
const FIRST_BOOT_PROBES: readonly string[] = [
  ...PRESEED_UNITS, wantsLinkOf(PRESEED_UNITS[0]!), ...PRESEED_STAMPS, PRESEED_PROGRAM, packageList('rpi-preseed'), ...masks(PRESEED_UNITS),
  CLOUD_INIT_PROGRAM, ...CLOUD_INIT_UNITS, CLOUD_INIT_CONFIG, CLOUD_INIT_DISABLED, packageList('cloud-init'), ...masks(CLOUD_INIT_UNITS),
  ...SYSTEMD_PROGRAMS, ...INIT_PATHS, IMAGER_CUSTOM, packageList('raspberrypi-sys-mods'),
];

/** Units a package's file list names that the first probes did not cover (a package that moved its unit). */
function unitsFromPackageLists(entries: ReadonlyMap<string, Ext4Entry>): string[] {
  const named = (pkg: string, pattern: RegExp) =>
    (entries.get(packageList(pkg))?.content?.toString('utf8') ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((path) => pattern.test(path) && !entries.has(path));
  const preseed = named('rpi-preseed', /\/systemd\/system\/rpi-preseed[^/]*\.service$/);
  const units = [...preseed, ...named('cloud-init', /\/systemd\/system\/cloud-init(-local|-main)?\.service$/)];
  return [...units, ...[...masks(units), ...preseed.map(wantsLinkOf)].filter((link) => !entries.has(link))];
}

export interface BootPartitionMount {
  point: string;
  /** False when /etc/fstab has no vfat line for it and the mount point is a guess. */
  fromFstab: boolean;
}

export interface FirstBootPlan {
  flavour: FirstBootFlavour;
  /** The rpi-preseed unit to enable (rpi-preseed only). */
  preseedUnit: string | null;
  warnings: string[];
}

const exists = (entries: ReadonlyMap<string, Ext4Entry>, path: string): boolean => Boolean(entries.get(path));
const isMasked = (entries: ReadonlyMap<string, Ext4Entry>, unit: string): boolean =>
  entries.get(`${LOCAL_UNITS}/${unit.slice(unit.lastIndexOf('/') + 1)}`)?.linkTarget === '/dev/null';

/** Why systemd would not be what runs at first boot; null when it is. */
function whyNotSystemd(entries: ReadonlyMap<string, Ext4Entry>, cmdline: string | null): string | null {
  if (!SYSTEMD_PROGRAMS.some((path) => exists(entries, path))) return 'the image has no systemd';
  const init = (cmdline ?? '').trim().split(/\s+/).find((token) => token.startsWith('init='))?.slice('init='.length);
  if (init) return init === RASPBERRY_PI_FIRSTBOOT || /\/systemd$/.test(init) ? null : `cmdline.txt starts ${init} instead of systemd (init=)`;
  const link = INIT_PATHS.map((path) => entries.get(path)).find(Boolean);
  if (!link) return 'the image has no /sbin/init';
  if (link.type !== 'symlink' || !/systemd$/.test(link.linkTarget ?? '')) return `/sbin/init is not systemd${link.linkTarget ? ` (it leads to ${link.linkTarget})` : ''}`;
  return null;
}

/** The decision (see the top of this file), from the probed root filesystem and the image's cmdline.txt. */
function planFirstBoot(entries: ReadonlyMap<string, Ext4Entry>, cmdline: string | null, boot: BootPartitionMount): FirstBootPlan {
  const notSystemd = whyNotSystemd(entries, cmdline);
  const notSeen = boot.fromFstab ? null : `/etc/fstab does not mount the boot partition, so nothing written there is seen at first boot (${boot.point} is a guess)`;
  const signs: string[] = [];

  // rpi-preseed: its unit (where the package list says, if it moved), not masked, under systemd.
  const preseedUnits = [...PRESEED_UNITS, ...[...entries.keys()].filter((path) => /\/systemd\/system\/rpi-preseed[^/]*\.service$/.test(path) && !path.startsWith(LOCAL_UNITS))];
  const preseedUnit = preseedUnits.find((unit) => exists(entries, unit)) ?? null;
  const preseedListed = exists(entries, packageList('rpi-preseed'));
  if (preseedUnit || preseedListed) {
    const problem =
      !preseedUnit ? 'rpi-preseed\'s package list is on the image but not its systemd unit'
      : isMasked(entries, preseedUnit) ? 'rpi-preseed.service is masked'
      : !exists(entries, PRESEED_PROGRAM) ? `rpi-preseed.service is there but not ${PRESEED_PROGRAM}`
      : notSystemd ?? notSeen;
    if (!problem) return { flavour: 'rpi-preseed', preseedUnit, warnings: [] };
    signs.push(`rpi-preseed (${problem})`);
  }

  // cloud-init: its program and first-stage unit, not disabled or masked, its seed folder (the boot partition) mounted.
  const cloudUnits = [...CLOUD_INIT_UNITS, ...[...entries.keys()].filter((path) => /\/systemd\/system\/cloud-init(-local|-main)?\.service$/.test(path) && !path.startsWith(LOCAL_UNITS))];
  const cloudUnit = cloudUnits.find((unit) => exists(entries, unit)) ?? null;
  const cloudSigns = [CLOUD_INIT_PROGRAM, CLOUD_INIT_CONFIG, packageList('cloud-init')].some((path) => exists(entries, path)) || cloudUnit;
  if (cloudSigns) {
    const disabledOnCmdline = (cmdline ?? '').split(/\s+/).includes('cloud-init=disabled');
    const problem =
      !exists(entries, CLOUD_INIT_PROGRAM) ? `cloud-init is configured but not installed (no ${CLOUD_INIT_PROGRAM})`
      : !cloudUnit ? 'cloud-init has no systemd unit to start it'
      : isMasked(entries, cloudUnit) ? `${cloudUnit.slice(cloudUnit.lastIndexOf('/') + 1)} is masked`
      : exists(entries, CLOUD_INIT_DISABLED) ? `cloud-init is disabled (${CLOUD_INIT_DISABLED})`
      : disabledOnCmdline ? 'cloud-init is disabled (cloud-init=disabled on cmdline.txt)'
      : notSystemd ?? (notSeen ? `its seed folder is missing: ${notSeen}` : null);
    if (!problem) return { flavour: 'cloud-init', preseedUnit: null, warnings: signs.length ? [unusedWarning(signs, 'cloud-init')] : [] };
    signs.push(`cloud-init (${problem})`);
  }

  // firstrun.sh: systemd runs it from the boot partition (systemd.run=), as Raspberry Pi Imager has it do.
  const firstrunProblem = notSystemd ?? notSeen;
  if (!firstrunProblem) return { flavour: 'firstrun', preseedUnit: null, warnings: signs.length ? [unusedWarning(signs, 'firstrun.sh')] : [] };
  if (exists(entries, IMAGER_CUSTOM)) signs.push(`Raspberry Pi Imager's imager_custom (firstrun.sh cannot run: ${firstrunProblem})`);

  const why = signs.length ? `the image has ${signs.join('; ')}` : `no first-boot mechanism found (${firstrunProblem})`;
  return {
    flavour: 'none',
    preseedUnit: null,
    warnings: [`${why}: the hostname is only in /etc/hostname and /etc/hosts, where a first-boot service of the image may still replace it`],
  };
}

function unusedWarning(signs: readonly string[], used: string): string {
  return `the image has ${signs.join('; ')}: the hostname is set for first boot through ${used} instead`;
}

/** The boot partition's mount point from /etc/fstab: /boot/firmware since Bookworm, /boot before. */
function findBootMount(root: ReadonlyMap<string, Ext4Entry>): BootPartitionMount {
  const fstab = root.get('/etc/fstab')?.content?.toString('utf8') ?? '';
  for (const line of fstab.split('\n')) {
    const [, point, type] = line.trim().split(/\s+/);
    if (!line.trim().startsWith('#') && type === 'vfat' && point?.startsWith('/boot')) return { point: point.replace(/\/$/, ''), fromFstab: true };
  }
  return { point: root.get('/boot/firmware')?.type === 'directory' ? '/boot/firmware' : '/boot', fromFstab: false };
}

export interface FirstBootInspection {
  plan: FirstBootPlan;
  mount: BootPartitionMount;
  /** Every root path probed (the decision's, /etc/fstab, and the caller's extras). */
  root: Map<string, Ext4Entry>;
  /** Every boot file read (cmdline.txt and the caller's extras); null for those the partition lacks. */
  boot: Map<string, Buffer | null>;
}

/**
 * Reads what the decision needs, in one debugfs session and one mcopy (two debugfs sessions if a package moved its
 * units), plus the caller's extra paths, and decides. Nothing is written.
 */
export async function inspectFirstBoot(
  ext: Ext4Volume,
  fat: FatVolume,
  extra: { rootPaths?: readonly string[]; bootFiles?: readonly string[] } = {},
): Promise<FirstBootInspection> {
  const root = await ext.inspect([...FIRST_BOOT_PROBES, '/etc/fstab', '/boot/firmware', ...(extra.rootPaths ?? [])]);
  const movedUnits = unitsFromPackageLists(root);
  if (movedUnits.length) for (const [path, entry] of await ext.inspect(movedUnits)) root.set(path, entry);
  const boot = await fat.readFiles([...new Set(['cmdline.txt', ...(extra.bootFiles ?? [])])]);
  const mount = findBootMount(root);
  return { plan: planFirstBoot(root, boot.get('cmdline.txt')?.toString('utf8') ?? null, mount), mount, root, boot };
}
