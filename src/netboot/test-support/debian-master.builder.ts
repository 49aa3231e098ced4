// Builds a real Debian arm64 master image from Debian's packages, laid out as Raspberry Pi OS lays out its images:
// an MBR with a FAT boot partition (kernel, initramfs, config.txt, cmdline.txt with root=PARTUUID=…) and an ext4
// root (mke2fs -d from the tree mmdebstrap made; nothing mounted). It is a master captured from a configured unit:
// it carries that unit's machine-id and SSH host keys, so a test can show that each clone gets its own.
//
// For booting under qemu-system-aarch64 -M virt: the initramfs holds the virtio and ext4 drivers, the root keeps
// only the kernel modules that machine can use (virtio, filesystems), the console is the virt board's PL011 UART,
// and systemd-networkd takes an address on any wired interface. One test-only unit reports the running system on
// the console once every boot job has finished and powers the board off (see REPORT_SCRIPT).
//
// Built with mmdebstrap under qemu-user-static (binfmt_misc), as root. Cached by everything that goes into it
// (packages, sources, files, layout), so a rerun reuses it and any change builds it afresh.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runWithInput, sha256File } from '../../disk-layout/test-support/disk-image.builder.js';

const run = promisify(execFile);
const SECTOR = 512;
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export const MASTER_SUITE = 'bookworm';
/** What a small headless product image needs: systemd as init, sshd, udev, networking, and the kernel to boot. */
export const MASTER_PACKAGES = [
  'systemd', 'systemd-sysv', 'udev', 'openssh-server', 'iproute2', 'netbase', 'curl', 'ca-certificates',
  'linux-image-arm64', 'initramfs-tools', 'kmod',
] as const;
/** The host's Debian sources (deb822): the same mirror and security suite the netboot fetcher uses. */
const HOST_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export const MASTER_HOSTNAME = 'pitcrew-master';
/** Raspberry Pi OS's file names on the boot partition, as its config.txt names them. */
const KERNEL_FILE = 'kernel8.img';
const INITRAMFS_FILE = 'initramfs8';
export const REPORT_BEGIN = 'PITCREW-REPORT-BEGIN';
export const REPORT_END = 'PITCREW-REPORT-END';

// Boot at 4 MiB as Raspberry Pi OS has it; 128 MiB of FAT32 holds the kernel (~30 MiB) and initramfs with room.
const BOOT_START = 8192;
const BOOT_SECTORS = 262144;
const ROOT_START = BOOT_START + BOOT_SECTORS;
/** Free space left on the root beyond what the tree needs: first boot writes keys, journal, logs. */
const ROOT_HEADROOM_BYTES = 192 * 1024 * 1024;

// The initramfs (initramfs-tools) with only the drivers needed to find and mount the root on QEMU's virt board:
// MODULES=most would take minutes more to build under emulation for drivers that board never uses.
const INITRAMFS_CONF = 'MODULES=list\n';
const INITRAMFS_HOOK = [
  '#!/bin/sh',
  '[ "$1" = prereqs ] && exit 0',
  '. /usr/share/initramfs-tools/hook-functions',
  'manual_add_modules virtio_pci virtio_blk ext4 crc32c_generic',
  '',
].join('\n');

// The kernel's and initramfs-tools' own scripts would build the initramfs twice (on the kernel's install, then on a
// trigger); each build takes minutes under emulation. update-initramfs is diverted to a no-op while packages are
// installed, and the initramfs built once at the end (after the modules are pruned).
const UPDATE_INITRAMFS = '/usr/sbin/update-initramfs';
const HOLD_INITRAMFS = [
  `chroot "$1" dpkg-divert --quiet --local --rename --divert ${UPDATE_INITRAMFS}.held --add ${UPDATE_INITRAMFS}`,
  `printf '#!/bin/sh\nexit 0\n' >"$1${UPDATE_INITRAMFS}"`,
  `chmod 755 "$1${UPDATE_INITRAMFS}"`,
].join('\n');

// Drops the kernel modules QEMU's virt board has no hardware for (GPUs, sound, wireless, USB …): a third of the
// image's size, which every deployment would otherwise download and verify.
const PRUNE_MODULES = [
  'for dir in "$1"/usr/lib/modules/*/kernel; do',
  '  rm -rf "$dir/sound"',
  '  find "$dir/drivers" -mindepth 1 -maxdepth 1 ! -name virtio ! -name block ! -name char ! -name net ! -name rtc -exec rm -rf {} +',
  '  find "$dir/drivers/net" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +',
  '  find "$dir/net" -mindepth 1 -maxdepth 1 ! -name core -exec rm -rf {} +',
  '  chroot "$1" depmod -a "$(basename "$(dirname "$dir")")"',
  'done',
].join('\n');
const BUILD_INITRAMFS = [
  `rm "$1${UPDATE_INITRAMFS}"`,
  `chroot "$1" dpkg-divert --quiet --local --rename --divert ${UPDATE_INITRAMFS}.held --remove ${UPDATE_INITRAMFS}`,
  'for dir in "$1"/usr/lib/modules/*; do chroot "$1" update-initramfs -c -k "$(basename "$dir")"; done',
].join('\n');

/** Any wired interface (virtio-net shows as enp0sN, a Pi's as end0/eth0) by DHCP. */
const NETWORK_FILE = '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n';

/**
 * Waits until every job of the boot has finished (whatever its outcome: a failed unit is reported, not hidden), then
 * prints what the running system is on the console and powers off. Type=exec: this unit's own job is done once the
 * script starts, so `is-system-running --wait` does not wait for itself.
 */
const REPORT_SCRIPT = [
  '#!/bin/sh',
  'systemctl is-system-running --wait >/dev/null 2>&1',
  '{',
  `  echo ${REPORT_BEGIN}`,
  '  echo "state=$(systemctl is-system-running)"',
  '  echo "hostname=$(hostname)"',
  '  echo "machine-id=$(cat /etc/machine-id)"',
  '  echo "sshd=$(systemctl is-active ssh.service)"',
  '  echo "failed=$(systemctl list-units --failed --plain --no-legend | cut -d" " -f1 | tr "\\n" " ")"',
  '  for key in /etc/ssh/ssh_host_*_key.pub; do echo "host-key=$(cat "$key")"; done',
  `  echo ${REPORT_END}`,
  '} >/dev/console 2>&1',
  'systemctl poweroff',
  '',
].join('\n');
const REPORT_UNIT = [
  '[Unit]',
  'Description=Report this system on the console and power off (Pitcrew end-to-end test)',
  'After=multi-user.target',
  '',
  '[Service]',
  'Type=exec',
  'ExecStart=/usr/local/sbin/pitcrew-test-report',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
  '',
].join('\n');

export interface DebianMaster {
  path: string;
  size: number;
  sha256: string;
  diskId: string;
  boot: { startByte: number; sizeBytes: number };
  root: { startByte: number; sizeBytes: number };
  cmdline: string;
  kernelVersion: string;
  /** The unit's identity the master carries: its /etc/machine-id (32 hex digits) … */
  machineId: string;
  /** … and its SSH host public keys, file name → content. */
  hostKeys: Record<string, string>;
  /** Seconds mmdebstrap took (0 when the cached master was used). */
  buildSeconds: number;
}

export interface MasterSetup {
  /** Folder kept between runs; the master is stored below it, named by what went into it. */
  cacheDir: string;
  log?: (line: string) => void;
}

/** Refuses early, with the fix, when this host cannot run arm64 maintainer scripts or build the image. */
export async function checkMasterBuildHost(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('building the Debian master needs root (mmdebstrap in root mode, file ownership in the image)');
  const missing = ['mmdebstrap', 'sfdisk', 'mkfs.vfat', 'mcopy', 'mke2fs', 'systemctl'].filter((tool) => !commandExists(tool));
  if (missing.length) throw new Error(`missing tools to build the Debian master: ${missing.join(', ')} (apt-get install mmdebstrap fdisk dosfstools mtools e2fsprogs systemd)`);
  const binfmt = await readFile('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8').catch(() => '');
  if (!binfmt.startsWith('enabled')) {
    throw new Error('arm64 programs cannot run on this host: apt-get install qemu-user-static binfmt-support, then '
      + 'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (if not mounted) and update-binfmts --enable qemu-aarch64');
  }
}

function commandExists(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, name)));
}

/** The cached master for this exact recipe, or a new one. */
export async function buildDebianMaster(setup: MasterSetup): Promise<DebianMaster> {
  const sources = await readFile(HOST_SOURCES, 'utf8').catch(() => null);
  const { treeKey, imageKey } = await masterCacheKeys(sources);
  const store = join(setup.cacheDir, 'debian-master');
  const dir = join(store, imageKey);
  const metaFile = join(dir, 'master.json');
  if (existsSync(metaFile)) {
    const cached = JSON.parse(await readFile(metaFile, 'utf8')) as DebianMaster;
    if (existsSync(cached.path) && (await sha256File(cached.path)) === cached.sha256) {
      setup.log?.(`Using the cached Debian master ${cached.path}`);
      return { ...cached, buildSeconds: 0 };
    }
  }
  await checkMasterBuildHost();
  await mkdir(store, { recursive: true });
  const work = await mkdtemp(join(store, '.build-'));
  try {
    const tree = join(store, `rootfs-${treeKey}.tar`);
    let buildSeconds = 0;
    if (!existsSync(tree)) buildSeconds = await buildRootTree(work, tree, sources ? HOST_SOURCES : null, setup.log);
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-xf', tree]);
    const master = { ...(await buildImage(work, rootfs, setup.log)), buildSeconds };
    await writeFile(join(work, 'master.json'), JSON.stringify({ ...master, path: join(dir, 'master.img') }, null, 2));
    await rm(rootfs, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    // Masters of earlier recipes are never used again (each is most of a gigabyte).
    const current = new Set([imageKey, `rootfs-${treeKey}.tar`]);
    for (const name of await readdir(store)) if (!current.has(name) && !name.startsWith('.build-')) await rm(join(store, name), { recursive: true, force: true });
    return { ...master, path: join(dir, 'master.img') };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

/** Names of the cached tree (packages and how they were installed) and image (also all this file writes and lays out). */
export async function masterCacheKeys(sources: string | null): Promise<{ treeKey: string; imageKey: string }> {
  const treeKey = hashOf(JSON.stringify({ suite: MASTER_SUITE, packages: MASTER_PACKAGES, sources, INITRAMFS_CONF, INITRAMFS_HOOK, HOLD_INITRAMFS, PRUNE_MODULES, BUILD_INITRAMFS }));
  return { treeKey, imageKey: hashOf(treeKey + (await readFile(import.meta.filename, 'utf8'))) };
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** mmdebstrap's tree, kept as a tarball (owners, modes, capabilities): the slow part, redone only for new packages. */
async function buildRootTree(work: string, tarball: string, sourcesFile: string | null, log?: (line: string) => void): Promise<number> {
  const rootfs = join(work, 'tree');
  const early = join(work, 'early');
  await writeTree(early, {
    'etc/initramfs-tools/conf.d/qemu-virt': INITRAMFS_CONF,
    'etc/initramfs-tools/hooks/qemu-virt': { content: INITRAMFS_HOOK, mode: 0o755 },
  });
  log?.(`Building a Debian ${MASTER_SUITE} arm64 system with mmdebstrap (${MASTER_PACKAGES.join(', ')})`);
  const started = Date.now();
  await runLogged('mmdebstrap', [
    '--arch=arm64', '--variant=minbase', '--mode=root', '--format=directory',
    `--include=${MASTER_PACKAGES.join(',')}`,
    '--aptopt=APT::Install-Recommends "false"',
    '--aptopt=Acquire::Retries "3"',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    `--essential-hook=sync-in ${early} /`,
    `--essential-hook=${HOLD_INITRAMFS}`,
    `--customize-hook=${PRUNE_MODULES}`,
    `--customize-hook=${BUILD_INITRAMFS}`,
    MASTER_SUITE, rootfs, ...(sourcesFile ? [sourcesFile] : []),
  ]);
  const seconds = Math.round((Date.now() - started) / 1000);
  log?.(`mmdebstrap took ${seconds} s`);
  await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-cf', `${tarball}.partial`, '.']);
  await rename(`${tarball}.partial`, tarball);
  await rm(rootfs, { recursive: true, force: true });
  return seconds;
}

/** The configured unit's tree, laid out on a Raspberry Pi OS-shaped disk image. */
async function buildImage(work: string, rootfs: string, log?: (line: string) => void): Promise<Omit<DebianMaster, 'buildSeconds'>> {
  const diskId = randomBytes(4).toString('hex');
  const partuuid = (n: number) => `PARTUUID=${diskId}-0${n}`;
  // The unit this master was captured from had booted: it has a machine-id of its own (mmdebstrap leaves it empty).
  const machineId = randomBytes(16).toString('hex');
  await writeTree(rootfs, {
    'etc/hostname': `${MASTER_HOSTNAME}\n`,
    'etc/hosts': `127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n\n127.0.1.1\t${MASTER_HOSTNAME}\n`,
    'etc/fstab': `${partuuid(2)}  /               ext4    defaults,noatime  0  1\n${partuuid(1)}  /boot/firmware  vfat    defaults          0  0\n`,
    'etc/machine-id': { content: `${machineId}\n`, mode: 0o444 },
    'etc/systemd/network/20-wired.network': NETWORK_FILE,
    'usr/local/sbin/pitcrew-test-report': { content: REPORT_SCRIPT, mode: 0o755 },
    'etc/systemd/system/pitcrew-test-report.service': REPORT_UNIT,
  });
  // No locale, time zone or root password is set, as on a unit nobody configured: on the first boot generalisation
  // gives each card, systemd-firstboot would wait on the console for them, were it not for the systemd.firstboot=off
  // the installer puts on cmdline.txt (first-boot.customizer.ts). The boots below prove it.
  await mkdir(join(rootfs, 'boot/firmware'), { recursive: true });
  await run('systemctl', [`--root=${rootfs}`, 'enable', '--quiet', 'systemd-networkd.service', 'pitcrew-test-report.service']);

  const hostKeys: Record<string, string> = {};
  for (const name of (await readdir(join(rootfs, 'etc/ssh'))).filter((n) => /^ssh_host_.*_key\.pub$/.test(n)).sort()) {
    hostKeys[name] = await readFile(join(rootfs, 'etc/ssh', name), 'utf8');
  }
  if (!Object.keys(hostKeys).length) throw new Error('openssh-server made no host keys in the master');
  const [kernelVersion] = (await readdir(join(rootfs, 'usr/lib/modules'))).sort();
  if (!kernelVersion) throw new Error('the master has no kernel');

  // Raspberry Pi OS's boot partition: the firmware reads config.txt, loads the kernel and initramfs it names, and
  // passes cmdline.txt to the kernel. The virt board's console is its PL011 UART (the Pi's serial0).
  const cmdline = `console=ttyAMA0,115200 root=${partuuid(2)} rootfstype=ext4 fsck.repair=yes rootwait quiet\n`;
  const bootFiles = join(work, 'boot');
  await mkdir(bootFiles);
  await writeFile(join(bootFiles, 'cmdline.txt'), cmdline);
  await writeFile(join(bootFiles, 'config.txt'), `# Raspberry Pi configuration\narm_64bit=1\nkernel=${KERNEL_FILE}\ninitramfs ${INITRAMFS_FILE} followkernel\n`);
  await rename(join(rootfs, 'boot', `vmlinuz-${kernelVersion}`), join(bootFiles, KERNEL_FILE));
  await rename(join(rootfs, 'boot', `initrd.img-${kernelVersion}`), join(bootFiles, INITRAMFS_FILE));

  const used = Number((await run('du', ['-s', '--block-size=1', rootfs])).stdout.split('\t')[0]);
  const rootSectors = Math.ceil((used * 1.2 + ROOT_HEADROOM_BYTES) / SECTOR / 2048) * 2048;
  const size = (ROOT_START + rootSectors) * SECTOR;
  const path = join(work, 'master.img');
  await writeFile(path, '');
  await truncate(path, size);
  await runWithInput('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path],
    `label: dos\nlabel-id: 0x${diskId}\nunit: sectors\n\nstart=${BOOT_START}, size=${BOOT_SECTORS}, type=c\nstart=${ROOT_START}, size=${rootSectors}, type=83\n`);
  // The FAT is made in a file of its own and copied in: mtools misreads a FAT32 made with --offset inside a disk
  // much larger than the filesystem ("No directory slots").
  const bootImage = join(work, 'boot.img');
  await writeFile(bootImage, '');
  await truncate(bootImage, BOOT_SECTORS * SECTOR);
  await run('mkfs.vfat', ['-F', '32', '-n', 'bootfs', '-i', diskId, bootImage]);
  const bootNames = (await readdir(bootFiles)).sort();
  await run('mcopy', ['-i', bootImage, ...bootNames.map((n) => join(bootFiles, n)), '::/'], { env: MTOOLS_ENV });
  await run('dd', [`if=${bootImage}`, `of=${path}`, 'bs=1M', `seek=${(BOOT_START * SECTOR) / 2 ** 20}`, 'conv=notrunc,sparse', 'status=none']);
  await rm(bootImage);
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'rootfs', '-E', `offset=${ROOT_START * SECTOR},root_owner=0:0,nodiscard`, '-d', rootfs, path, `${(rootSectors * SECTOR) / 1024}k`]);
  log?.(`Master image: ${(size / 2 ** 20).toFixed(0)} MiB (root ${(used / 2 ** 20).toFixed(0)} MiB used), kernel ${kernelVersion}`);

  return {
    path,
    size,
    sha256: await sha256File(path),
    diskId,
    boot: { startByte: BOOT_START * SECTOR, sizeBytes: BOOT_SECTORS * SECTOR },
    root: { startByte: ROOT_START * SECTOR, sizeBytes: rootSectors * SECTOR },
    cmdline,
    kernelVersion,
    machineId,
    hostKeys,
  };
}

type TreeFile = string | { content: string; mode: number };

async function writeTree(root: string, files: Record<string, TreeFile>): Promise<void> {
  for (const [relative, file] of Object.entries(files)) {
    const target = join(root, relative);
    await mkdir(join(target, '..'), { recursive: true });
    await rm(target, { force: true });
    await writeFile(target, typeof file === 'string' ? file : file.content);
    if (typeof file !== 'string') await chmod(target, file.mode);
  }
}

/** Runs a long build step, keeping the tail of its output for the error if it fails. */
function runLogged(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    let tail = '';
    const keep = (chunk: Buffer) => { tail = (tail + chunk.toString('utf8')).slice(-8000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${tail}`))));
  });
}
