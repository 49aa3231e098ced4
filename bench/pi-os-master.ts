// A Raspberry-Pi-OS-like master for the fleet benchmark, built from real Debian arm64 packages and cached.
// Layout as Pi OS ships it: an MBR, a FAT32 boot partition from 4 MiB (512 MiB; kernel, initramfs, device trees,
// config.txt, cmdline.txt) and an ext4 root filling the rest of the image, populated with `mke2fs -d` from an
// mmdebstrap'ed bookworm root filesystem (no mounts, no loop devices). Free space stays zero, as on a real image.
// Both the root filesystem tar (~4 min to build under qemu-user) and the image are kept in the cache folder:
// PITCREW_BENCH_CACHE (default data/bench-cache/, ignored by git), keyed by what they were built from.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onCleanup } from './shaped-network.js';
import { hasCommand } from './support.js';

const run = promisify(execFile);
const MIB = 1 << 20;
const SECTOR = 512;
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** Roughly what Pi OS Lite (bookworm, arm64) carries: systemd, NetworkManager, ssh, Python, Perl, a kernel with its modules. */
export const ROOTFS_PACKAGES = [
  'systemd', 'systemd-sysv', 'systemd-timesyncd', 'udev', 'dbus', 'openssh-server', 'iproute2', 'ifupdown', 'netbase', 'curl',
  'ca-certificates', 'linux-image-arm64', 'initramfs-tools', 'zstd', 'kmod', 'procps', 'sudo', 'less', 'nano', 'vim-tiny',
  'python3', 'perl', 'locales', 'wpasupplicant', 'iw', 'network-manager', 'avahi-daemon', 'rsync', 'parted', 'dosfstools',
  'bluez', 'firmware-linux-free', 'cron', 'logrotate', 'gnupg', 'apt-utils',
];
const SUITE = 'bookworm';
/** Bumped whenever the image layout below changes, so a cached image of an older layout is not reused. */
const LAYOUT = 1;

/** Debian packages of the host the build needs, by the command that shows each is there. */
const HOST_TOOLS: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  'qemu-aarch64-static': 'qemu-user-static',
  'update-binfmts': 'binfmt-support',
  'arch-test': 'arch-test',
  mke2fs: 'e2fsprogs',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  sfdisk: 'fdisk',
};

export const benchCacheDir = (): string =>
  process.env.PITCREW_BENCH_CACHE ?? fileURLToPath(new URL('../data/bench-cache/', import.meta.url));

/**
 * Makes sure the host can build an arm64 root filesystem: installs the missing Debian packages when root, and
 * registers qemu-aarch64 with binfmt_misc. Returns why it cannot, or null.
 */
export function prepareMasterTools(needRootfsBuild: boolean): string | null {
  const tools = needRootfsBuild ? Object.keys(HOST_TOOLS) : ['mke2fs', 'mkfs.vfat', 'mcopy', 'sfdisk'];
  let missing = tools.filter((tool) => !hasCommand(tool)).map((tool) => HOST_TOOLS[tool]!);
  if (missing.length > 0 && process.getuid?.() === 0 && hasCommand('apt-get')) {
    console.log(`  installing ${missing.join(' ')} (apt-get)`);
    spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    missing = tools.filter((tool) => !hasCommand(tool)).map((tool) => HOST_TOOLS[tool]!);
  }
  if (missing.length > 0) return `the master image needs the Debian packages ${missing.join(', ')}`;
  if (!needRootfsBuild) return null;
  if (!existsSync('/proc/sys/fs/binfmt_misc/status')) spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
  spawnSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'ignore' });
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) return 'arm64 binaries cannot run here (binfmt_misc has no qemu-aarch64 entry)';
  return null;
}

/** The first Debian mirror of the host's apt sources (deb822 or one-line), or PITCREW_BENCH_DEBIAN_MIRROR. */
function debianMirror(): string {
  if (process.env.PITCREW_BENCH_DEBIAN_MIRROR) return process.env.PITCREW_BENCH_DEBIAN_MIRROR;
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    try {
      const text = readFileSync(file, 'utf8');
      const match = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
      if (match) return match[1]!;
    } catch {
      // Not there: try the next.
    }
  }
  return 'http://deb.debian.org/debian';
}

const shortHash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 10);
/** The cache key: what the root filesystem is made of (build-speed details such as the initramfs drop-in aside). */
export const rootfsTarName = () => `rootfs-${SUITE}-arm64-${shortHash({ SUITE, variant: 'minbase', ROOTFS_PACKAGES })}.tar`;

/**
 * `full`: the whole root filesystem (~0.9 GiB of files). `small`: without kernel modules, firmware, documentation,
 * locales and Python: a master small enough that a hundred installers on two cores are not CPU-bound.
 */
export type MasterVariant = 'full' | 'small';
const SMALL_EXCLUDES = ['./usr/lib/modules', './usr/lib/firmware', './usr/share/doc', './usr/share/locale', './usr/share/man', './usr/lib/python3*', './usr/share/i18n', './usr/lib/aarch64-linux-gnu/perl*', './usr/share/perl*', './boot/initrd.img-*'];

export interface PiOsMaster {
  path: string;
  size: number;
  bootBytes: number;
  rootBytes: number;
  /** Bytes of files in the root filesystem (du of the extracted tar). */
  rootUsedBytes: number;
  /** Whether it came from the cache. */
  cached: boolean;
}

/**
 * Returns the cached master of `imageMib` MiB, building the root filesystem tar and the image as needed.
 * `log` receives one line per slow step.
 */
export async function piOsMaster(imageMib: number, log: (line: string) => void, variant: MasterVariant = 'full'): Promise<PiOsMaster> {
  const cache = benchCacheDir();
  mkdirSync(cache, { recursive: true });
  const tarName = rootfsTarName();
  const tar = join(cache, tarName);
  const bootMib = Math.min(512, Math.floor(imageMib / 5 / 4) * 4);
  const imagePath = join(cache, `raspios-like-v${LAYOUT}-${tarName.slice('rootfs-'.length, -'.tar'.length)}${variant === 'small' ? '-small' : ''}-${imageMib}MiB.img`);
  const metaPath = `${imagePath}.json`;
  if (existsSync(imagePath) && existsSync(metaPath)) return { ...(JSON.parse(readFileSync(metaPath, 'utf8')) as PiOsMaster), cached: true };

  if (!existsSync(tar)) {
    const started = performance.now();
    log(`building the arm64 ${SUITE} root filesystem with mmdebstrap (${ROOTFS_PACKAGES.length} packages, a few minutes; cached afterwards)`);
    const partial = `${tar}.partial`;
    rmSync(partial, { force: true });
    const forget = onCleanup(() => rmSync(partial, { force: true }));
    try {
      // Under qemu-user, mkinitramfs with Debian's MODULES=most probes every module of the kernel: ~15 min on two
      // busy cores, twice (the kernel's postinst, then a trigger). MODULES=list packs only what its hooks need, so
      // the initrd is smaller than a stock one; the drop-in is removed again, leaving Debian's configuration.
      const dropIn = '"$1/etc/initramfs-tools/conf.d/pitcrew-bench"';
      await run('mmdebstrap', [
        '--quiet', '--format=tar', '--arch=arm64', '--variant=minbase', `--include=${ROOTFS_PACKAGES.join(',')}`,
        `--essential-hook=mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list > ${dropIn}`,
        `--customize-hook=rm -f ${dropIn}`,
        SUITE, partial, debianMirror(),
      ], { maxBuffer: 64 * MIB });
    } catch (error) {
      rmSync(partial, { force: true });
      forget();
      throw new Error(`mmdebstrap failed: ${(error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' / ') ?? String(error)}`, { cause: error });
    }
    forget();
    renameSync(partial, tar);
    log(`root filesystem built in ${((performance.now() - started) / 1000).toFixed(0)} s: ${(statSync(tar).size / MIB).toFixed(0)} MiB tar`);
  }

  const started = performance.now();
  const work = join(cache, `work-${process.pid}`);
  const partialImage = `${imagePath}.partial`;
  const forget = onCleanup(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(partialImage, { force: true });
  });
  try {
    rmSync(work, { recursive: true, force: true });
    const rootDir = join(work, 'root');
    const bootDir = join(work, 'boot');
    mkdirSync(rootDir, { recursive: true });
    mkdirSync(bootDir, { recursive: true });
    const excludes = variant === 'small' ? SMALL_EXCLUDES.map((pattern) => `--exclude=${pattern}`) : [];
    await run('tar', ['-xf', tar, '-C', rootDir, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--wildcards', ...excludes]);
    const rootUsedBytes = Number((await run('du', ['-sb', rootDir])).stdout.split(/\s/)[0]);

    const bootStart = 4 * MIB;
    const bootBytes = bootMib * MIB;
    const rootStart = bootStart + bootBytes;
    const size = imageMib * MIB;
    const rootBytes = size - rootStart;
    if (rootBytes < rootUsedBytes * 1.15) {
      throw new Error(`a ${imageMib} MiB image leaves ${(rootBytes / MIB).toFixed(0)} MiB for a root filesystem of ${(rootUsedBytes / MIB).toFixed(0)} MiB; use at least ${Math.ceil((rootUsedBytes * 1.15 + rootStart) / MIB / 0.8)} MiB`);
    }
    const diskId = shortHash(imagePath).slice(0, 8);
    const partuuid = (n: number) => `PARTUUID=${diskId}-0${n}`;

    // Pi OS's own touches on top of Debian: fstab by PARTUUID, the boot partition at /boot/firmware, a hostname.
    writeFileSync(join(rootDir, 'etc/fstab'), `proc            /proc           proc    defaults          0       0\n${partuuid(1)}  /boot/firmware  vfat    defaults          0       2\n${partuuid(2)}  /               ext4    defaults,noatime  0       1\n`);
    writeFileSync(join(rootDir, 'etc/hostname'), 'raspberrypi\n');
    writeFileSync(join(rootDir, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n');
    mkdirSync(join(rootDir, 'boot/firmware'), { recursive: true });

    // Boot partition: the packaged kernel and initramfs under Pi OS's names, the Raspberry Pi device trees.
    const bootOfRoot = join(rootDir, 'boot');
    const kernel = readdirSync(bootOfRoot).find((f) => f.startsWith('vmlinuz-'));
    const initrd = readdirSync(bootOfRoot).find((f) => f.startsWith('initrd.img-'));
    await run('sh', ['-c', [
      kernel ? `cp "$1/${kernel}" "$2/kernel8.img"` : 'true',
      initrd ? `cp "$1/${initrd}" "$2/initramfs8"` : 'true',
      'for d in "$3"/usr/lib/linux-image-*/broadcom/bcm27*.dtb; do [ -e "$d" ] && cp "$d" "$2/"; done; true',
    ].join(' && '), 'sh', bootOfRoot, bootDir, rootDir]);
    writeFileSync(join(bootDir, 'config.txt'),
      '# For more options and information see http://rptl.io/configtxt\ndtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\nauto_initramfs=1\ndtoverlay=vc4-kms-v3d\nmax_framebuffers=2\ndisable_fw_kms_setup=1\narm_64bit=1\ndisable_overscan=1\narm_boost=1\n\n[cm4]\notg_mode=1\n\n[all]\n',
    );
    writeFileSync(join(bootDir, 'cmdline.txt'), `console=serial0,115200 console=tty1 root=${partuuid(2)} rootfstype=ext4 fsck.repair=yes rootwait quiet\n`);

    rmSync(partialImage, { force: true });
    await run('truncate', ['-s', String(size), partialImage]);
    await runWithInput('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', partialImage],
      `label: dos\nlabel-id: 0x${diskId}\nunit: sectors\n\nstart=${bootStart / SECTOR}, size=${bootBytes / SECTOR}, type=c\nstart=${rootStart / SECTOR}, size=${rootBytes / SECTOR}, type=83\n`);
    // 4 KiB clusters as Pi OS has, fewer sectors per cluster where that would leave too few clusters for FAT32.
    const clusterSectors = Math.max(1, Math.min(8, 2 ** Math.floor(Math.log2(bootBytes / SECTOR / 70_000))));
    await run('mkfs.vfat', ['-F', '32', '-s', String(clusterSectors), '-n', 'bootfs', '-i', diskId, '--offset', String(bootStart / SECTOR), partialImage, String(bootBytes / 1024)]);
    await run('sh', ['-c', 'mcopy -s -i "$1" "$2"/* ::/', 'sh', `${partialImage}@@${bootStart}`, bootDir], { env: MTOOLS_ENV });
    await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-L', 'rootfs', '-E', `offset=${rootStart},root_owner=0:0`, '-d', rootDir, partialImage, `${rootBytes / 1024}k`]);
    renameSync(partialImage, imagePath);
    const master = { path: imagePath, size, bootBytes, rootBytes, rootUsedBytes, cached: false };
    writeFileSync(metaPath, JSON.stringify(master));
    log(`master image built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return master;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(partialImage, { force: true });
    forget();
  }
}

function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, (error) => (error ? reject(error) : resolve()));
    child.stdin!.end(input);
  });
}
