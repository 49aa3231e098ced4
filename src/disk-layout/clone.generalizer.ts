// Makes each written card a machine of its own (issue 13, item 1), as libguestfs' virt-sysprep does for a disk that
// is about to be cloned: whatever a master image captured from a configured unit carries of that unit's identity is
// removed or reset on the root filesystem, with debugfs, before the partition table is written. Each step is
// reported, done or skipped with the reason (usually "not in this image").
//
// Two choices a reader should know (sources in the comments below):
// - /etc/machine-id becomes "uninitialized", not an empty file. machine-id(5), "First Boot Semantics": an empty file
//   gets a new id at boot but the boot is *not* a first boot; "uninitialized" (systemd ≥ 247) gets a new id *and*
//   ConditionFirstBoot= units run. Debian's openssh (trixie) makes host keys in sshd-keygen.service only under
//   ConditionFirstBoot=yes, and Raspberry Pi's pi-gen ships every image so (export-image/05-finalise, 2025-06).
// - SSH host keys are always regenerated before sshd starts: Raspberry Pi OS's own regenerate_ssh_host_keys.service
//   where the image has it (it disables itself after running, so a master captured from a booted unit has it off:
//   it is enabled again); else, and where the image also has Debian's sshd-keygen.service (pi-gen stopped enabling
//   the Raspberry Pi one then, 2025-08), a unit of ours that runs `ssh-keygen -A` while no host key exists.
import { NOT_IN_THIS_IMAGE, type GeneralizationStep, type GeneralizationStepId } from '../contracts/generalization.js';
import type { Ext4Change, Ext4DirEntry, Ext4Entry, Ext4Volume } from './ext4.volume.js';

/** machine-id(5): this content marks a first boot; systemd writes the new id once the root is writable. */
export const UNINITIALIZED_MACHINE_ID = 'uninitialized\n';
const MACHINE_ID = '/etc/machine-id';
/** systemd reads this one too when /etc/machine-id holds no id (unless it is a link): a stale copy would win. */
const DBUS_MACHINE_ID = '/var/lib/dbus/machine-id';
const RANDOM_SEED = '/var/lib/systemd/random-seed';
const UDEV_PERSISTENT_NET = '/etc/udev/rules.d/70-persistent-net.rules';

const SSH_DIR = '/etc/ssh';
const SSHD_PROGRAMS = ['/usr/sbin/sshd', '/sbin/sshd'];
const UNIT_DIRS = ['/usr/lib/systemd/system', '/lib/systemd/system'];
const LOCAL_UNITS = '/etc/systemd/system';
const SSH_UNIT_NAMES = ['ssh.service', 'sshd.service'];
const RASPBERRY_PI_KEYGEN = 'regenerate_ssh_host_keys.service';
const DEBIAN_KEYGEN = 'sshd-keygen.service';
export const HOST_KEYS_UNIT = `${LOCAL_UNITS}/pitcrew-ssh-hostkeys.service`;
const wantsLink = (unitName: string) => `${LOCAL_UNITS}/multi-user.target.wants/${unitName}`;

/** Ordered before every unit that starts sshd or makes keys, so two `ssh-keygen -A` never race. */
export const HOST_KEYS_UNIT_TEXT = [
  '[Unit]',
  'Description=Generate SSH host keys for this device (Pitcrew installer)',
  '# The installer removed the master image\'s keys so that no two devices share them; sshd needs some to start.',
  'ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key',
  'ConditionFileIsExecutable=/usr/bin/ssh-keygen',
  `Before=ssh.service sshd.service ssh.socket ${DEBIAN_KEYGEN} ${RASPBERRY_PI_KEYGEN}`,
  '',
  '[Service]',
  'Type=oneshot',
  'ExecStart=/usr/bin/ssh-keygen -A',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

/**
 * Lease and DHCP client identity files. systemd-networkd keeps its leases under /run, never in an image; its client
 * id derives from the machine id (reset above). dhcpcd keeps its DUID beside its leases (older ones in /etc).
 */
const LEASE_DIRS = ['/var/lib/dhcp', '/var/lib/dhclient', '/var/lib/dhcpcd'];
const NETWORK_MANAGER_DIR = '/var/lib/NetworkManager';
/** NetworkManager's leases, and its secret_key, from which it derives stable IPv6 addresses and DHCP client ids. */
const isNetworkManagerState = (name: string) => /\.lease/.test(name) || name === 'secret_key';
const LEASE_FILES = ['/etc/dhcpcd.duid', '/etc/dhcpcd.secret'];

const LOG_DIR = '/var/log';
/** Kept: with Storage=auto (the default) journald keeps a persistent journal only while this directory exists. */
const JOURNAL_DIR = '/var/log/journal';
/** Rotated logs (syslog.1, auth.log.2.gz, dpkg.log-20250101, messages.old): removed; live ones are emptied. */
const isRotatedLog = (name: string) => /(\.\d+|-\d{8})(\.(gz|xz|bz2|zst))?$|\.(gz|xz|bz2|zst|old)$/.test(name);

const HOME = '/home';
const HISTORY = '.bash_history';
const ROOT_HISTORY = `/root/${HISTORY}`;

/** How deep /var/log is walked (apt/, journal/<machine-id>/, installer/cdebconf/ …). */
const MAX_LOG_DEPTH = 6;

export interface GeneralizationPlan {
  steps: GeneralizationStep[];
  changes: Ext4Change[];
}

interface Found {
  path: string;
  entry: Ext4DirEntry;
}

/** Reads what the root filesystem holds and decides every step; nothing is written. */
export async function planGeneralization(ext: Ext4Volume): Promise<GeneralizationPlan> {
  const listings = await ext.list([SSH_DIR, ...LEASE_DIRS, NETWORK_MANAGER_DIR, HOME]);
  const { found: logs, incomplete: unseenLogDirs } = await walk(ext, LOG_DIR);
  const homes = (listings.get(HOME) ?? []).filter((e) => e.type === 'directory' && isPlainName(e.name)).map((e) => `${HOME}/${e.name}/${HISTORY}`);
  const unitPaths = (name: string) => [...UNIT_DIRS.map((dir) => `${dir}/${name}`), `${LOCAL_UNITS}/${name}`];
  const probes = [
    MACHINE_ID, DBUS_MACHINE_ID, RANDOM_SEED, UDEV_PERSISTENT_NET, ROOT_HISTORY, ...homes, ...LEASE_FILES, ...SSHD_PROGRAMS,
    ...[...SSH_UNIT_NAMES, RASPBERRY_PI_KEYGEN, DEBIAN_KEYGEN].flatMap(unitPaths), wantsLink(RASPBERRY_PI_KEYGEN),
  ];
  const entries = await ext.inspect(probes, { content: false });
  const machineId = entries.get(MACHINE_ID)?.type === 'regular' ? await ext.readFile(MACHINE_ID) : null;

  const steps: GeneralizationStep[] = [];
  const changes: Ext4Change[] = [];
  const record = (step: GeneralizationStepId, note: string, stepChanges: Ext4Change[] = [], done = stepChanges.length > 0) => {
    steps.push({ step, done, note: note.slice(0, 200) });
    changes.push(...stepChanges);
  };
  const removeAll = (paths: string[]): Ext4Change[] => paths.map((path) => ({ kind: 'remove', path }));

  // machine-id: the file keeps its owner and mode; its content says "first boot".
  const id = entries.get(MACHINE_ID);
  if (!id) record('machine-id', `${NOT_IN_THIS_IMAGE} (systemd makes one on first boot)`);
  else if (id.type !== 'regular') record('machine-id', `a ${id.type}${id.linkTarget ? ` to ${id.linkTarget}` : ''}, left as it is`);
  else if (machineId?.toString('utf8') === UNINITIALIZED_MACHINE_ID) record('machine-id', 'already "uninitialized"');
  else {
    const was = machineId && machineId.length > 0 ? 'the master\'s id' : 'an empty file';
    record('machine-id', `${was} replaced by "uninitialized": a new id and first-boot units on first boot`, [
      { kind: 'file', path: MACHINE_ID, content: UNINITIALIZED_MACHINE_ID, mode: id.mode & 0o7777, uid: id.uid, gid: id.gid },
    ]);
  }

  const dbus = entries.get(DBUS_MACHINE_ID);
  if (!dbus) record('dbus-machine-id', NOT_IN_THIS_IMAGE);
  else if (dbus.type === 'symlink') record('dbus-machine-id', `a link to ${dbus.linkTarget ?? '?'}, left as it is`);
  else record('dbus-machine-id', `${DBUS_MACHINE_ID} removed`, removeAll([DBUS_MACHINE_ID]));

  recordSshStep(record, listings.get(SSH_DIR) ?? [], entries, removeAll);

  const leases = [
    ...LEASE_DIRS.flatMap((dir) => regularFiles(listings.get(dir), dir)),
    ...regularFiles(listings.get(NETWORK_MANAGER_DIR), NETWORK_MANAGER_DIR).filter((path) => isNetworkManagerState(path.slice(path.lastIndexOf('/') + 1))),
    ...LEASE_FILES.filter((path) => entries.get(path)?.type === 'regular'),
  ];
  record('dhcp-leases', leases.length ? `${leases.length} file(s) removed` : NOT_IN_THIS_IMAGE, removeAll(leases));

  record('random-seed', entries.get(RANDOM_SEED) ? `${RANDOM_SEED} removed` : NOT_IN_THIS_IMAGE, entries.get(RANDOM_SEED) ? removeAll([RANDOM_SEED]) : []);

  // The journal: every file below /var/log/journal, then the emptied directories, deepest first.
  const journal = logs.filter((f) => f.path.startsWith(`${JOURNAL_DIR}/`));
  const journalFiles = journal.filter((f) => f.entry.type !== 'directory').map((f) => f.path);
  const wholly = (dir: string) => !unseenLogDirs.some((unseen) => unseen === dir || unseen.startsWith(`${dir}/`));
  const journalDirs = journal.filter((f) => f.entry.type === 'directory' && wholly(f.path)).map((f) => f.path).sort((a, b) => depth(b) - depth(a));
  record('journal', journalFiles.length || journalDirs.length ? `${journalFiles.length} file(s) removed` : NOT_IN_THIS_IMAGE, removeAll([...journalFiles, ...journalDirs]));

  // Other logs: rotated ones removed, live ones emptied in place (owner and mode kept: their daemons append to them).
  const logFiles = logs.filter((f) => f.entry.type === 'regular' && !f.path.startsWith(`${JOURNAL_DIR}/`));
  const rotated = logFiles.filter((f) => isRotatedLog(f.entry.name));
  const live = logFiles.filter((f) => !isRotatedLog(f.entry.name) && f.entry.size > 0);
  const logChanges: Ext4Change[] = [
    ...removeAll(rotated.map((f) => f.path)),
    ...live.map(({ path, entry }): Ext4Change => ({ kind: 'file', path, content: '', mode: entry.mode, uid: entry.uid, gid: entry.gid })),
  ];
  record('logfiles', logChanges.length ? `${live.length} emptied, ${rotated.length} rotated removed` : logFiles.length ? 'every log file already empty' : NOT_IN_THIS_IMAGE, logChanges);

  const histories = [ROOT_HISTORY, ...homes].filter((path) => entries.get(path)?.type === 'regular');
  record('shell-history', histories.length ? `${histories.length} removed` : NOT_IN_THIS_IMAGE, removeAll(histories));

  record('udev-persistent-net', entries.get(UDEV_PERSISTENT_NET) ? `${UDEV_PERSISTENT_NET} removed` : NOT_IN_THIS_IMAGE, entries.get(UDEV_PERSISTENT_NET) ? removeAll([UDEV_PERSISTENT_NET]) : []);

  return { steps, changes };
}

/** Plans, applies in one debugfs session, and reads every change back. */
export async function generalizeClone(ext: Ext4Volume): Promise<GeneralizationStep[]> {
  const plan = await planGeneralization(ext);
  if (plan.changes.length > 0) {
    await ext.apply(plan.changes);
    await ext.checkApplied(plan.changes);
  }
  return plan.steps;
}

function recordSshStep(
  record: (step: GeneralizationStepId, note: string, changes?: Ext4Change[], done?: boolean) => void,
  sshDir: Ext4DirEntry[],
  entries: ReadonlyMap<string, Ext4Entry>,
  removeAll: (paths: string[]) => Ext4Change[],
): void {
  const keys = sshDir.filter((e) => e.name.startsWith('ssh_host_') && e.type !== 'directory' && isPlainName(e.name)).map((e) => `${SSH_DIR}/${e.name}`);
  const unitOf = (name: string) => UNIT_DIRS.map((dir) => `${dir}/${name}`).find((path) => entries.get(path));
  const masked = (name: string) => entries.get(`${LOCAL_UNITS}/${name}`)?.linkTarget === '/dev/null';
  const hasSshd = SSHD_PROGRAMS.some((path) => entries.get(path)) || SSH_UNIT_NAMES.some((name) => unitOf(name));
  const removed = keys.length ? `${keys.length} host key file(s) removed` : 'no host keys in the image';
  if (!hasSshd) {
    record('ssh-host-keys', keys.length ? `${removed}; no SSH server in this image to make new ones for` : NOT_IN_THIS_IMAGE, removeAll(keys));
    return;
  }
  const raspberryPiKeygen = unitOf(RASPBERRY_PI_KEYGEN);
  if (raspberryPiKeygen && !masked(RASPBERRY_PI_KEYGEN) && !unitOf(DEBIAN_KEYGEN)) {
    const enabled = entries.get(wantsLink(RASPBERRY_PI_KEYGEN));
    const enable: Ext4Change[] = enabled ? [] : [{ kind: 'symlink', path: wantsLink(RASPBERRY_PI_KEYGEN), target: raspberryPiKeygen }];
    record('ssh-host-keys', `${removed}; new ones made on first boot by ${RASPBERRY_PI_KEYGEN}${enabled ? '' : ' (enabled)'}`, [...removeAll(keys), ...enable], true);
    return;
  }
  const unitName = HOST_KEYS_UNIT.slice(HOST_KEYS_UNIT.lastIndexOf('/') + 1);
  record('ssh-host-keys', `${removed}; new ones made on first boot by ${unitName} (ssh-keygen -A before sshd)`, [
    ...removeAll(keys),
    { kind: 'file', path: HOST_KEYS_UNIT, content: HOST_KEYS_UNIT_TEXT },
    { kind: 'symlink', path: wantsLink(unitName), target: HOST_KEYS_UNIT },
  ], true);
}

/**
 * Every entry below `root`, level by level (one debugfs session per level). `incomplete` names the directories not
 * wholly seen (below the depth limit, or holding a name that cannot be edited): they cannot be emptied and removed.
 */
async function walk(ext: Ext4Volume, root: string): Promise<{ found: Found[]; incomplete: string[] }> {
  const found: Found[] = [];
  const incomplete: string[] = [];
  let level = [root];
  for (let n = 0; level.length > 0; n++) {
    if (n === MAX_LOG_DEPTH) {
      incomplete.push(...level);
      break;
    }
    const next: string[] = [];
    for (const [dir, entries] of await ext.list(level)) {
      for (const entry of entries ?? []) {
        if (!isPlainName(entry.name)) {
          incomplete.push(dir);
          continue;
        }
        const path = `${dir}/${entry.name}`;
        found.push({ path, entry });
        if (entry.type === 'directory') next.push(path);
      }
    }
    level = next;
  }
  return { found, incomplete };
}

const regularFiles = (entries: Ext4DirEntry[] | null | undefined, dir: string): string[] =>
  (entries ?? []).filter((e) => e.type === 'regular' && isPlainName(e.name)).map((e) => `${dir}/${e.name}`);

/** Names debugfs commands can carry (quoted, no quote or newline); anything else is left alone. */
const isPlainName = (name: string) => !/["\n\\]/.test(name);

const depth = (path: string) => path.split('/').length;
