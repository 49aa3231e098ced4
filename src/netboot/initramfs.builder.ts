// Builds the installer's arm64 initramfs from Debian packages: BusyBox for the shell and network, the C/C++
// runtime Node needs, and the disk tools the agent runs. Node itself and the agent bundle are not inside: /init
// fetches them over HTTP from the device listener. The result is reproducible: same packages, same bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createCpioArchive, type CpioEntry } from './cpio.writer.js';
import { extractDeb, fetchDebianPackages, prepareAptContext, type AptContext, type FetchedPackage } from './debian-packages.fetcher.js';
import { EM_AARCH64, isElf, readElfInfo } from './elf.reader.js';
import { parseWholeNumber } from '../contracts/numbers.js';

/**
 * Packages inside the installer. busybox-static: shell, udhcpc, wget, gunzip, sha256sum, blockdev (the agent has
 * the kernel re-read the partition table it wrote; Raspberry Pi kernels parse MBR and GPT). libc6, libgcc-s1,
 * libstdc++6: what the official Node arm64 build links against. mtools, e2fsprogs (+ its libraries): the agent
 * edits the written card's FAT boot and ext4 root filesystems without mounting them.
 */
export const INSTALLER_PACKAGES = [
  'busybox-static',
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  'mtools',
  'e2fsprogs',
  'libext2fs2',
  'libcom-err2',
  'libss2',
  'libblkid1',
  'libuuid1',
] as const;

export const INITRAMFS_FILE = 'pitcrew-installer.img';
export const BUILD_MANIFEST_FILE = 'pitcrew-installer.manifest.json';

/** Fixed timestamp for every entry unless SOURCE_DATE_EPOCH says otherwise: 2024-01-01T00:00:00Z. */
const DEFAULT_EPOCH = 1_704_067_200;

// Documentation and translations are dead weight in a one-job installer. Of glibc's charset converters only the
// DOS code pages stay: mtools converts FAT file names through iconv (code page 850 by default).
const EXCLUDED = [
  /^usr\/share\/(doc|man|info|locale|lintian|bug|bash-completion|gdb|menu|zoneinfo)\//,
  /^usr\/lib\/[^/]+\/gconv\/(?!IBM437\.so\/$|IBM850\.so\/$|gconv-modules)[^/]+\/$/,
];

const MODULE_DIR = dirname(fileURLToPath(import.meta.url));

export interface InitramfsBuildOptions {
  outDir: string;
  cacheDir: string;
  packages?: readonly string[];
  sourcesFile?: string;
  /** Seconds since the epoch for every archive entry (defaults to SOURCE_DATE_EPOCH, else a fixed date). */
  mtime?: number;
  /** Programs outside the archive that must run with its libraries (the Node binary), checked by name. */
  mustRun?: { name: string; data: Buffer }[];
  log?: (line: string) => void;
  /** A prepared apt context to reuse (tests fetch the kernel with the same one). */
  apt?: AptContext;
}

export interface InitramfsBuildResult {
  file: string;
  sha256: string;
  size: number;
  packages: { name: string; version: string; sha256: string }[];
}

/** Maps a package path into the merged-/usr layout, so /lib and /usr/lib contents never collide. */
export function mapToMergedUsr(path: string): string {
  const match = /^(bin|sbin|lib|lib64)(\/.*)?$/.exec(path);
  return match ? `usr/${match[1]}${match[2] ?? ''}` : path;
}

async function collectTree(root: string, prefix = ''): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for (const name of (await readdir(join(root, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const abs = join(root, rel);
    const stat = await lstat(abs);
    const mapped = mapToMergedUsr(rel);
    if (EXCLUDED.some((re) => re.test(`${mapped}/`))) continue;
    if (stat.isDirectory()) {
      entries.push({ kind: 'dir', path: mapped, mode: stat.mode & 0o7777 });
      entries.push(...(await collectTree(root, rel)));
    } else if (stat.isSymbolicLink()) {
      entries.push({ kind: 'symlink', path: mapped, target: await readlink(abs) });
    } else if (stat.isFile()) {
      entries.push({ kind: 'file', path: mapped, data: await readFile(abs), mode: stat.mode & 0o7777 });
    }
  }
  return entries;
}

/** Merges package trees; the same path from two packages must be identical (else it is a packaging error). */
function mergeEntries(target: Map<string, CpioEntry>, entries: CpioEntry[], from: string): void {
  for (const entry of entries) {
    const existing = target.get(entry.path);
    if (!existing) { target.set(entry.path, entry); continue; }
    if (existing.kind === 'dir' && entry.kind === 'dir') continue;
    const same = existing.kind === entry.kind &&
      (entry.kind === 'file' ? existing.kind === 'file' && existing.data.equals(entry.data) : entry.kind === 'symlink' && existing.kind === 'symlink' && existing.target === entry.target);
    if (!same) throw new Error(`initramfs: ${from} ships "${entry.path}", which another package ships differently`);
  }
}

function resolveInTree(tree: Map<string, CpioEntry>, path: string, depth = 0): CpioEntry | undefined {
  if (depth > 16) return undefined;
  const parts = path.split('/').filter(Boolean);
  let current = '';
  for (let i = 0; i < parts.length; i += 1) {
    current = current ? `${current}/${parts[i]}` : parts[i]!;
    const entry = tree.get(current);
    // A folder need not be listed: any entry below it implies it.
    if (!entry) {
      if (i === parts.length - 1) return undefined;
      continue;
    }
    if (entry.kind === 'symlink') {
      const target = entry.target.startsWith('/') ? entry.target : posix.join(posix.dirname(current), entry.target);
      return resolveInTree(tree, posix.join(target, ...parts.slice(i + 1)), depth + 1);
    }
    if (i === parts.length - 1) return entry;
  }
  return undefined;
}

const LIBRARY_DIRS = ['usr/lib/aarch64-linux-gnu', 'usr/lib'];

/** Every arm64 program and library must find its interpreter and shared libraries inside the archive. */
export function checkLinkage(tree: Map<string, CpioEntry>, extra: { name: string; data: Buffer }[] = []): void {
  const problems: string[] = [];
  const candidates: { name: string; data: Buffer }[] = [...extra];
  for (const entry of tree.values()) {
    if (entry.kind === 'file' && isElf(entry.data)) candidates.push({ name: entry.path, data: entry.data });
  }
  for (const { name, data } of candidates) {
    let info;
    try { info = readElfInfo(data); } catch { continue; }
    if (info.machine !== EM_AARCH64) { problems.push(`${name} is not an arm64 program`); continue; }
    if (info.interpreter && !resolveInTree(tree, info.interpreter)) problems.push(`${name} needs ${info.interpreter}`);
    for (const lib of info.needed) {
      if (!LIBRARY_DIRS.some((dir) => resolveInTree(tree, `${dir}/${lib}`))) problems.push(`${name} needs ${lib}`);
    }
  }
  if (problems.length) throw new Error(`initramfs is missing libraries (add their Debian packages):\n  ${problems.join('\n  ')}`);
}

export function readInstallerScript(name: 'installer-init.sh' | 'installer-udhcpc.sh'): Buffer {
  return readFileSync(join(MODULE_DIR, name));
}

function baseEntries(manifest: string): CpioEntry[] {
  return [
    { kind: 'symlink', path: 'bin', target: 'usr/bin' },
    { kind: 'symlink', path: 'sbin', target: 'usr/sbin' },
    { kind: 'symlink', path: 'lib', target: 'usr/lib' },
    { kind: 'symlink', path: 'usr/bin/sh', target: 'busybox' },
    { kind: 'file', path: 'init', data: readInstallerScript('installer-init.sh'), mode: 0o755 },
    { kind: 'file', path: 'etc/pitcrew/udhcpc.script', data: readInstallerScript('installer-udhcpc.sh'), mode: 0o755 },
    { kind: 'file', path: 'etc/pitcrew/manifest.json', data: Buffer.from(manifest) },
    { kind: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
    { kind: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\n') },
    { kind: 'file', path: 'etc/hostname', data: Buffer.from('pitcrew-installer\n') },
    // The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    ...['proc', 'sys', 'run', 'root', 'mnt', 'opt', 'usr/local/bin', 'usr/local/sbin'].map((path): CpioEntry => ({ kind: 'dir', path })),
    { kind: 'dir', path: 'tmp', mode: 0o1777 },
  ];
}

export function resolveEpoch(mtime?: number): number {
  if (mtime !== undefined) return mtime;
  const env = process.env.SOURCE_DATE_EPOCH;
  return (env === undefined ? null : parseWholeNumber(env, { min: 0 })) ?? DEFAULT_EPOCH;
}

/** gzip with a zero header time, so equal archives compress to equal bytes. */
export function gzipReproducibly(data: Buffer): Buffer {
  return gzipSync(data, { level: 9 });
}

export async function buildInstallerInitramfs(options: InitramfsBuildOptions): Promise<InitramfsBuildResult> {
  const log = options.log ?? (() => {});
  const apt = options.apt ?? (await prepareAptContext({ cacheDir: options.cacheDir, sourcesFile: options.sourcesFile, log }));
  const fetched: FetchedPackage[] = await fetchDebianPackages(apt, options.packages ?? INSTALLER_PACKAGES, join(options.cacheDir, 'debs'), log);
  const work = await mkdtemp(join(tmpdir(), 'pitcrew-initramfs-'));
  try {
    const tree = new Map<string, CpioEntry>();
    for (const pkg of fetched) {
      const dir = join(work, pkg.name);
      await extractDeb(pkg.file, dir);
      mergeEntries(tree, await collectTree(dir), pkg.name);
    }
    const packages = fetched.map(({ name, version, sha256 }) => ({ name, version, sha256 }));
    const manifest = `${JSON.stringify({ packages }, null, 2)}\n`;
    mergeEntries(tree, baseEntries(manifest), 'pitcrew');
    if (tree.get('usr/bin/busybox')?.kind !== 'file') throw new Error('initramfs: busybox-static is required');
    checkLinkage(tree, options.mustRun);
    const archive = gzipReproducibly(createCpioArchive([...tree.values()], { mtime: resolveEpoch(options.mtime) }));
    await mkdir(options.outDir, { recursive: true });
    const file = join(options.outDir, INITRAMFS_FILE);
    await writeFile(file, archive);
    const result = { file, sha256: createHash('sha256').update(archive).digest('hex'), size: archive.length, packages };
    log(`Installer initramfs: ${file} (${(archive.length / 1048576).toFixed(1)} MiB, sha256 ${result.sha256.slice(0, 16)}…)`);
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
