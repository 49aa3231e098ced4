// Builds small but real Raspberry Pi OS-shaped disk images for tests, without root or loop devices: an MBR
// (sfdisk on a sparse file), a FAT32 boot partition (mkfs.vfat --offset, files put in with mcopy -i img@@off)
// and an ext4 root (mke2fs -d -E offset=). One image per first-boot flavour, each with the markers the
// installer looks for on a real image.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SECTOR = 512;
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export type ImageFlavour = 'rpi-preseed' | 'cloud-init' | 'firstrun' | 'none';

export interface BuildOptions {
  flavour: ImageFlavour;
  /** Leave a stale rpi-preseed "applied" stamp, as an image captured from a booted system would have. */
  stalePreseedStamp?: boolean;
  /** Ship rpi-preseed.service enabled (default) or merely installed. */
  preseedUnitEnabled?: boolean;
  /** Extra files for the boot partition (name → content). */
  bootFiles?: Record<string, string | Buffer>;
  /** Extra files for the root filesystem (absolute path → content). */
  rootFiles?: Record<string, string | Buffer>;
  /** Root filesystem paths the flavour would have that this image leaves out (a package half removed). */
  omitRootFiles?: string[];
  /** Symbolic links on the root filesystem (absolute path → target), e.g. a unit masked with /dev/null. */
  rootSymlinks?: Record<string, string>;
  /** What a master captured from a configured, booted unit carries of that unit (see CloneArtefacts). */
  artefacts?: CloneArtefacts;
  /** Partition table scheme (default mbr, as Raspberry Pi OS ships). */
  scheme?: 'mbr' | 'gpt';
  fileName?: string;
}

/** A unit's identity and history, as a master image captured from it would carry them; each one optional. */
export interface CloneArtefacts {
  /** /etc/machine-id: a real id, an empty file, or already marked for first boot. */
  machineId?: 'id' | 'empty' | 'uninitialized';
  /** /var/lib/dbus/machine-id: a copy of the id, or Debian's link to /etc/machine-id. */
  dbusMachineId?: 'file' | 'link';
  sshHostKeys?: boolean;
  /**
   * The SSH server: Raspberry Pi OS's (with regenerate_ssh_host_keys.service, disabled as it leaves itself once it
   * has run), plain Debian's (ssh.service alone), or Debian trixie's (with sshd-keygen.service, first boot only).
   */
  sshServer?: 'raspberry-pi-os' | 'debian' | 'debian-trixie';
  /** Masks Raspberry Pi OS's regenerate_ssh_host_keys.service. */
  sshRegenerateMasked?: boolean;
  /** dhclient, dhcpcd (with its DUID) and NetworkManager leases (with its secret_key). */
  leases?: boolean;
  randomSeed?: boolean;
  /** A persistent journal in /var/log/journal/<machine-id>/. */
  journal?: boolean;
  /** Live and rotated logs in /var/log and below, wtmp, btmp and lastlog. */
  logs?: boolean;
  /** root's and pi's .bash_history. */
  histories?: boolean;
  udevPersistentNet?: boolean;
}

/** Everything a used master can carry, with Raspberry Pi OS's SSH server. */
export const ALL_CLONE_ARTEFACTS: CloneArtefacts = {
  machineId: 'id',
  dbusMachineId: 'file',
  sshHostKeys: true,
  sshServer: 'raspberry-pi-os',
  leases: true,
  randomSeed: true,
  journal: true,
  logs: true,
  histories: true,
  udevPersistentNet: true,
};

export const MASTER_MACHINE_ID = '6f1c2e9a0b7d4c3e8f5a1b2c3d4e5f60';

/** Files that sit beside the artefacts and must survive generalisation unchanged. */
export const KEPT_BESIDE_ARTEFACTS = [
  '/etc/ssh/sshd_config',
  '/var/lib/NetworkManager/NetworkManager.state',
  '/home/pi/.bashrc',
  '/etc/udev/rules.d/99-camera.rules',
  '/var/log/README',
];

interface ArtefactTree {
  files: Record<string, string | Buffer>;
  symlinks: Record<string, string>;
  /** Permission bits, where not 0644. */
  modes: Record<string, number>;
  /** uid:gid, where not root's (applied only when the builder runs as root). */
  owners: Record<string, [number, number]>;
}

function artefactTree(a: CloneArtefacts): ArtefactTree {
  const tree: ArtefactTree = { files: {}, symlinks: {}, modes: {}, owners: {} };
  const file = (path: string, content: string | Buffer, mode?: number, owner?: [number, number]) => {
    tree.files[path] = content;
    if (mode !== undefined) tree.modes[path] = mode;
    if (owner) tree.owners[path] = owner;
  };
  if (a.machineId) file('/etc/machine-id', { id: `${MASTER_MACHINE_ID}\n`, empty: '', uninitialized: 'uninitialized\n' }[a.machineId], 0o444);
  if (a.dbusMachineId === 'file') file('/var/lib/dbus/machine-id', `${MASTER_MACHINE_ID}\n`, 0o444);
  if (a.dbusMachineId === 'link') tree.symlinks['/var/lib/dbus/machine-id'] = '/etc/machine-id';
  if (a.sshHostKeys) {
    for (const type of ['rsa', 'ecdsa', 'ed25519']) {
      file(`/etc/ssh/ssh_host_${type}_key`, `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`, 0o600);
      file(`/etc/ssh/ssh_host_${type}_key.pub`, `ssh-${type} ${randomBytes(32).toString('base64')} root@raspberrypi\n`);
    }
  }
  if (a.sshHostKeys || a.sshServer) file('/etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n');
  if (a.sshServer) {
    file('/usr/sbin/sshd', '#!/bin/sh\n# stand-in for sshd\n', 0o755);
    file('/usr/bin/ssh-keygen', '#!/bin/sh\n# stand-in for ssh-keygen\n', 0o755);
    file('/usr/lib/systemd/system/ssh.service', '[Unit]\nDescription=OpenBSD Secure Shell server\n\n[Service]\nExecStart=/usr/sbin/sshd -D\n\n[Install]\nWantedBy=multi-user.target\n');
  }
  if (a.sshServer === 'raspberry-pi-os') {
    file('/usr/lib/systemd/system/regenerate_ssh_host_keys.service', '[Unit]\nDescription=Regenerate SSH host keys\nBefore=ssh.service\n\n[Service]\nType=oneshot\nExecStart=/usr/lib/raspberrypi-sys-mods/regenerate_ssh_host_keys\n\n[Install]\nWantedBy=multi-user.target\n');
    file('/usr/lib/raspberrypi-sys-mods/regenerate_ssh_host_keys', '#!/bin/sh -e\n# stand-in\n', 0o755);
  }
  if (a.sshServer === 'debian-trixie') {
    file('/usr/lib/systemd/system/sshd-keygen.service', '[Unit]\nDescription=Generate sshd host keys on first boot\nConditionFirstBoot=yes\nBefore=ssh.service\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n');
  }
  if (a.sshRegenerateMasked) tree.symlinks['/etc/systemd/system/regenerate_ssh_host_keys.service'] = '/dev/null';
  if (a.leases) {
    file('/var/lib/dhcp/dhclient.eth0.leases', 'lease {\n  interface "eth0";\n  fixed-address 192.168.1.23;\n}\n');
    file('/var/lib/dhcpcd/eth0.lease', randomBytes(300));
    file('/var/lib/dhcpcd/duid', '00:04:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00\n');
    file('/var/lib/NetworkManager/internal-7d3f0e1c-eth0.lease', 'ADDRESS=192.168.1.23\n');
    file('/var/lib/NetworkManager/secret_key', randomBytes(32), 0o600);
    file('/var/lib/NetworkManager/NetworkManager.state', '[main]\nNetworkingEnabled=true\n');
  }
  if (a.randomSeed) file('/var/lib/systemd/random-seed', randomBytes(512), 0o600);
  if (a.journal) {
    const dir = `/var/log/journal/${MASTER_MACHINE_ID}`;
    file(`${dir}/system.journal`, randomBytes(64 * 1024), 0o640, [0, 4]);
    file(`${dir}/user-1000.journal`, randomBytes(16 * 1024), 0o640, [0, 4]);
    file(`${dir}/system@00061a2b3c4d5e6f-0123456789abcdef.journal~`, randomBytes(8 * 1024), 0o640, [0, 4]);
  }
  if (a.logs) {
    file('/var/log/README', '');
    file('/var/log/syslog', 'Jan  1 00:00:00 raspberrypi kernel: booting\n', 0o640, [0, 4]);
    file('/var/log/syslog.1', 'Dec 31 23:59:59 raspberrypi kernel: older\n', 0o640, [0, 4]);
    file('/var/log/auth.log.2.gz', randomBytes(200), 0o640, [0, 4]);
    file('/var/log/dpkg.log-20250101', 'older dpkg lines\n');
    file('/var/log/apt/history.log', 'Start-Date: 2025-01-01  00:00:00\n');
    file('/var/log/apt/history.log.1.gz', randomBytes(100));
    file('/var/log/wtmp', randomBytes(384), 0o664, [0, 43]);
    file('/var/log/btmp', randomBytes(384), 0o660, [0, 43]);
    file('/var/log/lastlog', randomBytes(292), 0o664, [0, 43]);
  }
  if (a.histories) {
    file('/root/.bash_history', 'sudo raspi-config\nls\n', 0o600);
    file('/home/pi/.bash_history', 'passwd\nssh-copy-id venue\n', 0o600, [1000, 1000]);
    file('/home/pi/.bashrc', '# ~/.bashrc\n', 0o644, [1000, 1000]);
  }
  if (a.udevPersistentNet) {
    file('/etc/udev/rules.d/70-persistent-net.rules', 'SUBSYSTEM=="net", ATTR{address}=="dc:a6:32:01:02:03", NAME="eth0"\n');
    file('/etc/udev/rules.d/99-camera.rules', 'SUBSYSTEM=="video4linux", GROUP="video"\n');
  }
  return tree;
}

export interface BuiltImage {
  path: string;
  size: number;
  sha256: string;
  flavour: ImageFlavour;
  diskId: string;
  boot: { startByte: number; sizeBytes: number };
  root: { startByte: number; sizeBytes: number };
  /** Where the image's fstab mounts the boot partition. */
  bootMount: string;
  /** The cmdline.txt the image ships. */
  cmdline: string;
}

// Raspberry Pi OS layout, scaled down: boot at 4 MiB, 40 MiB FAT32 (the smallest comfortable FAT32), then root.
const BOOT_START = 8192;
const BOOT_SECTORS = 81920;
const ROOT_START = BOOT_START + BOOT_SECTORS;
const ROOT_SECTORS = 32768;
const TOTAL_SECTORS = ROOT_START + ROOT_SECTORS + 34; // room for a GPT backup header

export async function buildDiskImage(dir: string, options: BuildOptions): Promise<BuiltImage> {
  const path = join(dir, options.fileName ?? `raspios-${options.flavour}.img`);
  const diskId = randomBytes(4).toString('hex');
  const bootMount = options.flavour === 'none' ? '/boot' : '/boot/firmware';
  const size = TOTAL_SECTORS * SECTOR;
  await truncate(path, 0).catch(() => {});
  await writeFile(path, '');
  await truncate(path, size);

  const scheme = options.scheme ?? 'mbr';
  const table =
    scheme === 'mbr'
      ? `label: dos\nlabel-id: 0x${diskId}\nunit: sectors\n\nstart=${BOOT_START}, size=${BOOT_SECTORS}, type=c\nstart=${ROOT_START}, size=${ROOT_SECTORS}, type=83\n`
      : `label: gpt\nunit: sectors\n\nstart=${BOOT_START}, size=${BOOT_SECTORS}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nstart=${ROOT_START}, size=${ROOT_SECTORS}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n`;
  await runWithInput('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path], table);

  const partuuid = (n: number) => (scheme === 'mbr' ? `PARTUUID=${diskId}-0${n}` : `LABEL=${n === 1 ? 'bootfs' : 'rootfs'}`);
  const cmdline =
    `console=serial0,115200 console=tty1 root=${partuuid(2)} rootfstype=ext4 fsck.repair=yes rootwait quiet` +
    (options.flavour === 'firstrun' ? ' init=/usr/lib/raspberrypi-sys-mods/firstboot' : '') +
    '\n';

  // Boot partition.
  await run('mkfs.vfat', ['-F', '32', '-n', 'bootfs', '-i', diskId, '--offset', String(BOOT_START), path, String((BOOT_SECTORS * SECTOR) / 1024)]);
  const bootFiles: Record<string, string | Buffer> = {
    'cmdline.txt': cmdline,
    'config.txt': '# Raspberry Pi configuration\narm_64bit=1\ndtoverlay=vc4-kms-v3d\ncamera_auto_detect=1\n',
    'start4.elf': randomBytes(96 * 1024),
    ...(options.flavour === 'cloud-init'
      ? {
          'user-data': '#cloud-config\n# This file is the cloud-init user-data seed; Raspberry Pi Imager fills it in.\ntimezone: Europe/London\n',
          'meta-data': 'dsmode: local\ninstance_id: rpios-image\n',
          'network-config': '# network: {config: disabled}\n',
        }
      : {}),
    ...options.bootFiles,
  };
  const staging = await mkdtemp(join(dir, 'staging-'));
  try {
    for (const [name, content] of Object.entries(bootFiles)) {
      const local = join(staging, name);
      await writeFile(local, content);
      await run('mcopy', ['-i', `${path}@@${BOOT_START * SECTOR}`, local, `::/${name}`], { env: MTOOLS_ENV });
    }

    // Root filesystem.
    const root = join(staging, 'rootfs');
    const artefacts = artefactTree(options.artefacts ?? {});
    const files: Record<string, string | Buffer> = {
      '/etc/hostname': 'raspberrypi\n',
      '/etc/hosts': '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\n\n127.0.1.1\t\traspberrypi\n',
      '/etc/fstab': `proc            /proc           proc    defaults          0       0\n${partuuid(1)}  ${bootMount}  vfat    defaults          0       2\n${partuuid(2)}  /               ext4    defaults,noatime  0       1\n`,
      '/etc/os-release': 'PRETTY_NAME="Pitcrew test image"\nID=debian\n',
      '/usr/share/pitcrew-test/payload.bin': randomBytes(192 * 1024),
      ...flavourRootFiles(options.flavour),
      ...artefacts.files,
      ...options.rootFiles,
    };
    for (const omitted of options.omitRootFiles ?? []) delete files[omitted];
    if (options.stalePreseedStamp) files['/var/lib/rpi-preseed/applied'] = 'timestamp=2025-01-01T00:00:00Z\nversion=0\nfingerprint=0123\n';
    for (const [file, content] of Object.entries(files)) {
      await mkdir(join(root, file, '..'), { recursive: true });
      await writeFile(join(root, file), content);
    }
    await mkdir(join(root, bootMount.slice(1)), { recursive: true });
    await mkdir(join(root, 'var/lib'), { recursive: true });
    if (options.flavour !== 'none' && files['/usr/lib/systemd/systemd']) await chmod(join(root, 'usr/lib/systemd/systemd'), 0o755);
    if (options.flavour !== 'none') {
      // Merged /usr, as Raspberry Pi OS has it; the kernel starts /sbin/init, which is systemd.
      await mkdir(join(root, 'usr/sbin'), { recursive: true });
      await symlink('usr/sbin', join(root, 'sbin'));
      await symlink('../lib/systemd/systemd', join(root, 'usr/sbin/init'));
    }
    for (const [file, mode] of Object.entries(artefacts.modes)) if (files[file] !== undefined) await chmod(join(root, file), mode);
    if (process.getuid?.() === 0) for (const [file, [uid, gid]] of Object.entries(artefacts.owners)) if (files[file] !== undefined) await chown(join(root, file), uid, gid);
    for (const [link, target] of Object.entries({ ...artefacts.symlinks, ...options.rootSymlinks })) {
      await mkdir(join(root, link, '..'), { recursive: true });
      await symlink(target, join(root, link));
    }
    if (options.flavour === 'rpi-preseed' && options.preseedUnitEnabled !== false) {
      await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
      await symlink('/usr/lib/systemd/system/rpi-preseed.service', join(root, 'etc/systemd/system/multi-user.target.wants/rpi-preseed.service'));
    }
    await run('mke2fs', [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-L',
      'rootfs',
      '-E',
      `offset=${ROOT_START * SECTOR},root_owner=0:0,nodiscard`,
      '-d',
      root,
      path,
      `${(ROOT_SECTORS * SECTOR) / 1024}k`,
    ]);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  return {
    path,
    size,
    sha256: await sha256File(path),
    flavour: options.flavour,
    diskId,
    boot: { startByte: BOOT_START * SECTOR, sizeBytes: BOOT_SECTORS * SECTOR },
    root: { startByte: ROOT_START * SECTOR, sizeBytes: ROOT_SECTORS * SECTOR },
    bootMount,
    cmdline,
  };
}

/** dpkg's record of a package's files, as /var/lib/dpkg/info/<package>.list holds it. */
const packageList = (paths: string[]): string => ['/.', ...paths].join('\n') + '\n';

function flavourRootFiles(flavour: ImageFlavour): Record<string, string> {
  const systemd = { '/usr/lib/systemd/systemd': '#!/bin/sh\n# stand-in for the systemd binary\n' };
  const sysMods = {
    '/usr/lib/raspberrypi-sys-mods/imager_custom': '#!/bin/sh\n# stand-in for imager_custom\n',
    '/usr/lib/raspberrypi-sys-mods/firstboot': '#!/bin/sh\n# stand-in for the first-boot resizer\n',
    '/var/lib/dpkg/info/raspberrypi-sys-mods.list': packageList(['/usr/lib/raspberrypi-sys-mods/firstboot', '/usr/lib/raspberrypi-sys-mods/imager_custom']),
  };
  switch (flavour) {
    case 'rpi-preseed':
      return {
        ...systemd,
        '/usr/bin/rpi-preseed': '#!/bin/sh\n# stand-in for rpi-preseed\n',
        '/usr/lib/systemd/system/rpi-preseed.service':
          '[Unit]\nDescription=rpi-preseed base configuration (first boot)\nConditionPathExists=/boot/firmware/rpi-preseed.toml\nConditionPathExists=!/var/lib/rpi-preseed/applied\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/rpi-preseed apply-base\n\n[Install]\nWantedBy=multi-user.target\n',
        '/var/lib/dpkg/info/rpi-preseed.list': packageList(['/usr/bin/rpi-preseed', '/usr/lib/systemd/system/rpi-preseed.service']),
      };
    case 'cloud-init': {
      const units = ['cloud-init-local', 'cloud-init', 'cloud-config', 'cloud-final'].map((name) => `/usr/lib/systemd/system/${name}.service`);
      return {
        ...systemd,
        '/usr/bin/cloud-init': '#!/bin/sh\n# stand-in for cloud-init\n',
        ...Object.fromEntries(units.map((unit) => [unit, `[Unit]\nDescription=stand-in for ${unit}\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/cloud-init init\n`])),
        '/etc/cloud/cloud.cfg': 'datasource_list: [ NoCloud, None ]\n',
        '/etc/cloud/cloud.cfg.d/99_raspberry-pi.cfg': 'datasource:\n  NoCloud:\n    seedfrom: file:///boot/firmware\n',
        '/var/lib/dpkg/info/cloud-init.list': packageList(['/usr/bin/cloud-init', '/etc/cloud/cloud.cfg', ...units]),
      };
    }
    case 'firstrun':
      return { ...systemd, ...sysMods };
    case 'none':
      return {};
  }
}

export function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, (error) => (error ? reject(error) : resolve()));
    child.stdin!.end(input);
  });
}

export async function sha256File(path: string, start = 0, end?: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start, end: end === undefined ? undefined : end - 1 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reads a file from the image's (or disk's) FAT boot partition; null if absent. */
export async function readBootFile(diskPath: string, bootStart: number, name: string): Promise<string | null> {
  try {
    const { stdout } = await run('mtype', ['-i', `${diskPath}@@${bootStart}`, `::/${name}`], { env: MTOOLS_ENV, encoding: 'buffer' });
    return stdout.toString('utf8');
  } catch {
    return null;
  }
}

/** Lists the boot partition's files (name → bytes), recursively. */
export async function dumpBootPartition(diskPath: string, bootStart: number, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  await run('mcopy', ['-s', '-n', '-i', `${diskPath}@@${bootStart}`, '::/*', into], { env: MTOOLS_ENV });
  return into;
}

/** Dumps the root filesystem into a directory with debugfs rdump (no mount). */
export async function dumpRootPartition(diskPath: string, rootStart: number, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  await run('debugfs', ['-R', `rdump / ${into}`, `${diskPath}?offset=${rootStart}`]);
  return into;
}

/** Runs e2fsck (read-only) on the root filesystem and fsck-like listing on the FAT one; rejects on any error. */
export async function checkFilesystems(diskPath: string, image: Pick<BuiltImage, 'boot' | 'root'>): Promise<void> {
  await run('e2fsck', ['-fn', `${diskPath}?offset=${image.root.startByte}`]);
  await run('mdir', ['-i', `${diskPath}@@${image.boot.startByte}`, '::/'], { env: MTOOLS_ENV });
}

/** Stat of a path on the root filesystem, as debugfs prints it. */
export async function statRootPath(diskPath: string, rootStart: number, path: string): Promise<string> {
  const { stdout, stderr } = await run('debugfs', ['-R', `stat "${path}"`, `${diskPath}?offset=${rootStart}`]);
  return stdout + stderr;
}

export async function readRootFile(diskPath: string, rootStart: number, path: string): Promise<string | null> {
  const info = await statRootPath(diskPath, rootStart, path);
  if (/not found/i.test(info)) return null;
  const { stdout } = await run('debugfs', ['-R', `cat "${path}"`, `${diskPath}?offset=${rootStart}`], { encoding: 'buffer' });
  return stdout.toString('utf8');
}

/** A temp dir for one test; the caller removes it. */
export const makeTempDir = (prefix = 'pitcrew-agent-test-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));
