// Which disk the image goes to, and whether the board will boot it afterwards. The rule (README.md, docs/netboot.md):
//   1. Candidates are whole disks the bootloader can start a system from — SD card or eMMC (BOOT_ORDER mode 1), NVMe
//      (6), USB drive (4, 5) — that are writable, not empty, have nothing mounted, and are not the medium this
//      installer itself was started from (the installer stick, named by its disk identifier on the kernel command
//      line, whatever the boot order, and any USB drive while no disk carries that identifier; else the disk of the
//      boot mode, when it names one).
//   2. With the board's BOOT_ORDER known, it is walked as the bootloader will walk it after the reboot: the target is
//      the candidate at the first mode that reaches one. If the walk meets network or HTTP boot (or RPIBOOT) first,
//      or never reaches a candidate, the installation is refused: the board would start this installer again and
//      re-image itself on every boot. Two candidates at the same mode (two USB drives) are not guessed between.
//   3. With the boot order unknown: NVMe, then eMMC, then SD card, then USB drive, and a warning says it was not checked.
// A target named by the operator (pitcrew.target=, --target) passes the same checks: refused where the board could
// not boot it, warned where another disk comes first.
import { stat, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { describeDisk, listBlockDisks, MEDIUM_NAMES, type BlockDisk, type DiskMedium } from './block-devices.reader.js';
import { BOOT_MODE_NAMES, describeBootOrder, NETWORK_BOOT_MODES, readBootloaderState, type BootloaderState, type BootOrder } from './bootloader-state.reader.js';
import { InstallerError } from './installer.errors.js';

/** The BOOT_ORDER modes that start a system from each kind of disk. */
const MODES_REACHING: Readonly<Record<DiskMedium, readonly number[]>> = {
  'sd-card': [0x1, 0x0],
  emmc: [0x1, 0x0],
  nvme: [0x6],
  usb: [0x4, 0x5],
  other: [],
};

/** Modes after which the board runs something other than a disk's system: this installer again, or a USB host's image. */
const NOT_A_DISK_MODES: readonly number[] = [...NETWORK_BOOT_MODES, 0x3];

/** With the boot order unknown: NVMe first (a board fitted with one is meant to run from it), the SD card before USB. */
const PREFERENCE: readonly DiskMedium[] = ['nvme', 'emmc', 'sd-card', 'usb'];

export interface InstallTarget {
  /** The path to open, or "sink". */
  path: string;
  /** For the installer's log and the deployment's message: which disk, why it, and the boot order checked. */
  description: string;
  /** Worth an operator's attention on the dashboard. */
  warnings: string[];
  /** The installer stick this installer was started from, by kernel name (sdb), when it is plugged in. */
  installerStick?: string;
}

/** Where this installer was started from: the bootloader's account, and the stick's disk identifier if it is on one. */
export interface InstallerOrigin {
  state: BootloaderState;
  /** pitcrew.stick=: the MBR disk identifier of the installer stick (8 hex digits). */
  stickId: string | null;
}

interface Excluded {
  disk: BlockDisk;
  reason: string;
}

/** The disk media this system was started from, by the bootloader's boot-mode (none for network, HTTP or RPIBOOT). */
function mediaOfBootMode(mode: number | null): DiskMedium[] {
  if (mode === null) return [];
  return (Object.keys(MODES_REACHING) as DiskMedium[]).filter((medium) => MODES_REACHING[medium].includes(mode));
}

/** The installer stick(s) plugged in: disks carrying the identifier on this installer's command line. */
function installerSticks(disks: readonly BlockDisk[], origin: InstallerOrigin): BlockDisk[] {
  return origin.stickId ? disks.filter((disk) => disk.diskId === origin.stickId) : [];
}

/** Started from a stick that no disk here carries the identifier of: not plugged in, or not found by the kernel yet. */
function stickUnseen(disks: readonly BlockDisk[], origin: InstallerOrigin): boolean {
  return origin.stickId !== null && installerSticks(disks, origin).length === 0;
}

/**
 * The disk this installer was started from: the installer stick when it is plugged in (known for certain, and on any
 * machine); else, when the boot mode names a disk medium, the disks of it — exactly one, or several that could each be
 * it. A stick named on the command line but not seen may still be any USB drive, whatever the boot mode says (off a
 * Raspberry Pi it says nothing): one slow to show up must not be taken for a target.
 */
function installerMedia(disks: readonly BlockDisk[], origin: InstallerOrigin): BlockDisk[] {
  const sticks = installerSticks(disks, origin);
  if (sticks.length) return sticks;
  const media = mediaOfBootMode(origin.state.bootMode);
  if (stickUnseen(disks, origin)) media.push('usb');
  return disks.filter((disk) => media.includes(disk.medium));
}

function sortOut(disks: readonly BlockDisk[], origin: InstallerOrigin): { candidates: BlockDisk[]; excluded: Excluded[] } {
  const own = installerMedia(disks, origin);
  const sticks = installerSticks(disks, origin);
  const candidates: BlockDisk[] = [];
  const excluded: Excluded[] = [];
  for (const disk of disks) {
    const reason =
      sticks.includes(disk) ? 'it is the installer stick this installer was started from'
      : own.includes(disk) && disk.medium === 'usb' && stickUnseen(disks, origin) ? `this installer was started from the installer stick ${origin.stickId}, not found among the disks, and it may be this one`
      : own.includes(disk) ? (own.length === 1 ? 'this installer was started from it' : `this installer was started from a ${MEDIUM_NAMES[disk.medium]} and cannot tell which`)
      : disk.medium === 'other' ? 'the bootloader cannot start a system from it'
      : disk.readOnly ? 'it is write-protected'
      : disk.mountedPartitions.length ? `it is in use (${disk.mountedPartitions.join(', ')} mounted)`
      : null;
    if (reason) excluded.push({ disk, reason });
    else candidates.push(disk);
  }
  return { candidates, excluded };
}

/** Where in the walk a disk is first reached; -1 if never. */
function positionIn(order: BootOrder, disk: BlockDisk): number {
  return order.modes.findIndex((mode) => MODES_REACHING[disk.medium].includes(mode));
}

/** Where the walk first leaves the disks for this installer (or RPIBOOT); -1 if never. */
function installerAgainAt(order: BootOrder): number {
  return order.modes.findIndex((mode) => NOT_A_DISK_MODES.includes(mode));
}

/** The same order with the disk's mode moved first: what to set so the board starts the installed system. */
export function suggestBootOrder(order: BootOrder, medium: DiskMedium): string {
  const mode = MODES_REACHING[medium][0];
  if (mode === undefined) return order.value;
  const modes = [mode, ...order.modes.filter((m) => m !== mode)];
  const end = order.then === 'stop' ? 'e' : 'f';
  return `0x${end}${[...modes].reverse().map((m) => m.toString(16)).join('')}`;
}

function listDisks(disks: readonly BlockDisk[]): string {
  return disks.map(describeDisk).join(', ');
}

function startedBy(disks: readonly BlockDisk[], origin: InstallerOrigin): string {
  const sticks = installerSticks(disks, origin);
  if (sticks.length) return `; this installer was started from the installer stick ${listDisks(sticks)}`;
  if (stickUnseen(disks, origin)) return `; this installer was started from the installer stick ${origin.stickId}, not found among the disks`;
  const { state } = origin;
  return state.bootMode === null ? '' : `; this installer was started from ${BOOT_MODE_NAMES[state.bootMode] ?? `boot mode ${state.bootMode}`}`;
}

/** Refusals of a walk that does not end on `disks`: the board would boot the installer again, or nothing. */
function refuseWalk(order: BootOrder, disks: readonly BlockDisk[], prefer: BlockDisk): InstallerError {
  const again = installerAgainAt(order);
  const fix = `set BOOT_ORDER=${suggestBootOrder(order, prefer.medium)} in the bootloader configuration (rpi-eeprom-config --edit), or name another disk with pitcrew.target=`;
  if (again !== -1 && disks.every((disk) => positionIn(order, disk) === -1 || positionIn(order, disk) > again)) {
    const mode = order.modes[again]!;
    const what = mode === 0x3 ? 'waits for a USB host (RPIBOOT)' : `boots from the ${BOOT_MODE_NAMES[mode]} again: this installer would re-image it on every start`;
    return new InstallerError('TARGET', `BOOT_ORDER ${describeBootOrder(order)} tries ${BOOT_MODE_NAMES[mode]} before ${listDisks(disks)}, so after installing, the board ${what}; ${fix}`);
  }
  return new InstallerError('TARGET', `BOOT_ORDER ${describeBootOrder(order)} never tries ${listDisks(disks)}: the board would not start what is installed there; ${fix}`);
}

function byPreference(disks: readonly BlockDisk[]): BlockDisk[] {
  return [...disks].sort((a, b) => PREFERENCE.indexOf(a.medium) - PREFERENCE.indexOf(b.medium));
}

/** Disks the bootloader reaches before position `at` of the walk, other than `target`. */
function reachedBefore(order: BootOrder, at: number, disks: readonly BlockDisk[], target: BlockDisk): BlockDisk[] {
  return disks.filter((disk) => disk !== target && disk.medium !== 'other' && positionIn(order, disk) !== -1 && positionIn(order, disk) < at);
}

/**
 * Said on the console and on the dashboard whenever the installer runs from a stick: with the usual boot orders the
 * board would start the installed system anyway, but a stick left in is one reboot away from re-imaging the board.
 */
function removeStickWarning(sticks: readonly BlockDisk[], target: BlockDisk, order: BootOrder | null): string {
  const triedFirst = order !== null && sticks.some((stick) => { const at = positionIn(order, stick); return at !== -1 && at < positionIn(order, target); });
  return `remove the installer stick before the board restarts (${listDisks(sticks)})${triedFirst ? `: the bootloader tries it before ${target.name}, so this installer would start again and re-image the board` : ''}`;
}

/** The warnings about disks the bootloader reaches before the target, and the stick to remove. */
function warningsAbout(earlier: readonly BlockDisk[], target: BlockDisk, disks: readonly BlockDisk[], origin: InstallerOrigin): string[] {
  const sticks = installerSticks(disks, origin);
  const others = earlier.filter((disk) => !sticks.includes(disk));
  return [
    ...(others.length ? [earlierDiskWarning(others, target, installerMedia(disks, origin))] : []),
    ...(sticks.length ? [removeStickWarning(sticks, target, origin.state.bootOrder)] : []),
  ];
}

function earlierDiskWarning(earlier: readonly BlockDisk[], target: BlockDisk, own: readonly BlockDisk[]): string {
  const installer = earlier.filter((disk) => own.includes(disk));
  if (installer.length) {
    return `remove ${listDisks(installer)} before the board restarts: it holds this installer and the bootloader tries it before ${target.name}, so the installer would start again`;
  }
  return `the bootloader tries ${listDisks(earlier)} before ${target.name}: if ${earlier.length === 1 ? 'it holds' : 'one holds'} a bootable system when the board restarts, that system starts instead of the one installed now (remove it, or wipe it)`;
}

function unknownOrderWarning(state: BootloaderState, target: BlockDisk): string | null {
  // Off a Raspberry Pi (QEMU, a test machine) there is no boot order to check, nor anything to warn about.
  if (state.bootMode === null) return null;
  return `the boot order could not be read (${state.unknownBecause}): make sure BOOT_ORDER tries ${MEDIUM_NAMES[target.medium]} (${target.name}) before the network, or the board will re-image itself on every boot`;
}

/** NVMe behind an adapter that is not HAT+ is found by the bootloader only with PCIE_PROBE=1 (its configuration says). */
function pcieNote(disk: BlockDisk, state: BootloaderState): string {
  return disk.medium === 'nvme' && state.pcieProbe === false ? '; PCIE_PROBE=1 is not set, so the bootloader finds this drive only on a HAT+ adapter' : '';
}

function describeOrder(state: BootloaderState): string {
  if (state.bootOrder) return `BOOT_ORDER ${describeBootOrder(state.bootOrder)}`;
  return state.bootMode === null ? 'no Raspberry Pi bootloader here, boot order not checked' : `boot order unknown: ${state.unknownBecause}`;
}

/** The disk to install to when none is named (the rule at the top of this file). */
export function chooseTargetDisk(disks: readonly BlockDisk[], origin: InstallerOrigin): InstallTarget {
  const { state } = origin;
  const { candidates, excluded } = sortOut(disks, origin);
  if (candidates.length === 0) {
    const seen = excluded.map(({ disk, reason }) => `${describeDisk(disk)}: ${reason}`).join('; ');
    throw new InstallerError('TARGET', `no disk this board can boot from to install to (${seen || 'no SD card, eMMC, NVMe or USB drive found'})${startedBy(disks, origin)}`);
  }
  const warnings: string[] = [];
  let chosen: BlockDisk;
  let why: string;
  if (state.bootOrder) {
    const order = state.bootOrder;
    const first = order.modes.findIndex((mode) => candidates.some((disk) => MODES_REACHING[disk.medium].includes(mode)));
    const again = installerAgainAt(order);
    if (first === -1 || (again !== -1 && again < first)) throw refuseWalk(order, candidates, byPreference(candidates)[0]!);
    const tier = candidates.filter((disk) => MODES_REACHING[disk.medium].includes(order.modes[first]!));
    if (tier.length > 1) {
      throw new InstallerError('TARGET', `the bootloader reaches ${listDisks(tier)} at the same step of BOOT_ORDER ${describeBootOrder(order)} and which one it starts cannot be told: name one with pitcrew.target=`);
    }
    chosen = tier[0]!;
    why = `the first disk ${describeOrder(state)} reaches`;
    warnings.push(...warningsAbout(reachedBefore(order, first, excluded.map((e) => e.disk), chosen), chosen, disks, origin));
  } else {
    const ranked = byPreference(candidates);
    const tier = ranked.filter((disk) => disk.medium === ranked[0]!.medium);
    if (tier.length > 1) throw new InstallerError('TARGET', `found ${listDisks(tier)} and cannot tell which one the board boots (${describeOrder(state)}): name one with pitcrew.target=`);
    chosen = tier[0]!;
    why = `chosen by the default rule, NVMe before eMMC, SD card and USB drive (${describeOrder(state)})`;
    const warning = unknownOrderWarning(state, chosen);
    if (warning) warnings.push(warning);
    warnings.push(...warningsAbout([], chosen, disks, origin));
  }
  const others = disks.filter((disk) => disk !== chosen);
  const also = others.length ? `; also found ${others.map((disk) => `${describeDisk(disk)}${excluded.some((e) => e.disk === disk) ? ` — ${excluded.find((e) => e.disk === disk)!.reason}` : ''}`).join(', ')}` : '';
  return withStick({ path: chosen.devicePath, description: `${chosen.devicePath}, ${describeDisk(chosen)}: ${why}${pcieNote(chosen, state)}${startedBy(disks, origin)}${also}`, warnings }, disks, origin);
}

function withStick(target: InstallTarget, disks: readonly BlockDisk[], origin: InstallerOrigin): InstallTarget {
  const [stick] = installerSticks(disks, origin);
  return stick ? { ...target, installerStick: stick.name } : target;
}

/** A disk named by the operator: refused where the board could not boot it afterwards, warned where another comes first. */
export function checkNamedDisk(target: BlockDisk, disks: readonly BlockDisk[], origin: InstallerOrigin): InstallTarget {
  const { state } = origin;
  const own = installerMedia(disks, origin);
  if (installerSticks(disks, origin).some((stick) => stick.name === target.name)) {
    throw new InstallerError('TARGET', `${describeDisk(target)} is the installer stick this installer was started from; refusing to overwrite it`);
  }
  if (target.medium === 'usb' && stickUnseen(disks, origin)) {
    throw new InstallerError('TARGET', `this installer was started from the installer stick ${origin.stickId}, not found among the disks, and ${describeDisk(target)} may be it; refusing to overwrite it (the board tries again shortly)`);
  }
  if (own.length === 1 && own[0]!.name === target.name) {
    throw new InstallerError('TARGET', `${describeDisk(target)} is the medium this installer was started from${startedBy(disks, origin)}; refusing to overwrite it`);
  }
  if (target.readOnly) throw new InstallerError('TARGET', `${describeDisk(target)} is write-protected (an SD card's lock switch?)`);
  const warnings: string[] = [];
  if (own.some((disk) => disk.name === target.name)) warnings.push(`this installer was started from a ${MEDIUM_NAMES[target.medium]} and ${target.name} may be it`);
  if (state.bootMode !== null && target.medium === 'other') {
    throw new InstallerError('TARGET', `the bootloader cannot start a system from ${describeDisk(target)} (only from an SD card, eMMC, NVMe or a USB drive)`);
  }
  if (state.bootOrder) {
    const order = state.bootOrder;
    const at = positionIn(order, target);
    const again = installerAgainAt(order);
    if (at === -1 || (again !== -1 && again < at)) throw refuseWalk(order, [target], target);
    warnings.push(...warningsAbout(reachedBefore(order, at, disks, target), target, disks, origin));
  } else {
    const warning = unknownOrderWarning(state, target);
    if (warning) warnings.push(warning);
    warnings.push(...warningsAbout([], target, disks, origin));
  }
  return withStick({ path: target.devicePath, description: `${target.devicePath}, ${describeDisk(target)}: named by the operator (${describeOrder(state)})${pcieNote(target, state)}${startedBy(disks, origin)}`, warnings }, disks, origin);
}

/**
 * The target an installation writes: "sink", "auto" (chosen by the rule above) or a path. A path that is a block
 * device is checked against the board's boot order; a regular file (tests, the simulator) is taken as it is.
 */
export async function resolveInstallTarget(requested: string, root = '/', stickId: string | null = null): Promise<InstallTarget> {
  if (requested === 'sink') return { path: 'sink', description: 'a hashing sink (nothing is kept)', warnings: [] };
  if (requested === 'auto') return chooseTargetDisk(await listBlockDisks(root), { state: await readBootloaderState(root), stickId });
  const info = await stat(requested).catch(() => null);
  if (!info?.isBlockDevice()) return { path: requested, description: `${requested}${info ? ' (a file)' : ''}`, warnings: [] };
  const [disks, state] = await Promise.all([listBlockDisks(root), readBootloaderState(root)]);
  const name = basename(await realpath(requested).catch(() => requested));
  const disk = disks.find((d) => d.name === name);
  if (disk) return checkNamedDisk(disk, disks, { state, stickId });
  // Not a whole disk of /sys/block: a partition, a loop device. The bootloader starts whole disks only.
  if (state.bootOrder) throw new InstallerError('TARGET', `${requested} is not a whole disk the bootloader can start a system from (an SD card, eMMC, NVMe or USB drive such as /dev/mmcblk0, /dev/nvme0n1, /dev/sda)`);
  return { path: requested, description: `${requested} (${describeOrder(state)})`, warnings: [] };
}
