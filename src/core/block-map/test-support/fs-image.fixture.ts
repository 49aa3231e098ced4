// Real disk images for the block map's tests, made without root or loop devices: sfdisk on a sparse file, mkfs.vfat
// --offset and mcopy/mdel -i img@@offset for FAT, mke2fs -E offset= -d and debugfs -w 'img?offset=' for ext.
// Files are written, deleted and fragmented (many small files, every other one deleted, then a big one).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { ByteRange } from '../../../contracts/image-delivery.js';

const exec = promisify(execFile);
export const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
export const SECTOR = 512;
export const MiB = 1 << 20;

export async function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  if (options.input === undefined) {
    const { stdout } = await exec(command, args, { env: options.env ?? process.env, maxBuffer: 64 * MiB });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { env: options.env ?? process.env }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    child.stdin!.end(options.input);
  });
}

export const makeTempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'pitcrew-block-map-'));

export type FsKind = 'fat12' | 'fat16' | 'fat32' | 'ext2' | 'ext3' | 'ext4' | 'ext4-no-flex' | 'raw';

export interface PartitionSpec {
  fs: FsKind;
  sizeMiB: number;
  /** MBR type byte ("c", "83", "da") or GPT type GUID; defaults by filesystem. */
  type?: string;
  /** Free space before this partition, in MiB (a gap the bootloader may read; filled with random bytes). */
  gapMiB?: number;
  label?: string;
}

export interface PartitionInfo extends PartitionSpec {
  number: number;
  startByte: number;
  sizeBytes: number;
  /** Files that should read back: path inside the filesystem → content. */
  files: Map<string, Buffer>;
  /** Byte extents (absolute) of a big file that was written and then deleted: freed, so not needed. */
  deleted: ByteRange[];
}

export interface TestImage {
  path: string;
  size: number;
  scheme: 'mbr' | 'gpt';
  partitions: PartitionInfo[];
}

const FIRST_START_MiB = 1;

/** Builds, formats and populates an image. `tailBytes` after the last partition (GPT backup included there). */
export async function buildTestImage(
  dir: string,
  name: string,
  options: { scheme: 'mbr' | 'gpt'; partitions: PartitionSpec[]; tailBytes?: number; populate?: boolean },
): Promise<TestImage> {
  const path = join(dir, name);
  let start = FIRST_START_MiB * MiB;
  const infos: PartitionInfo[] = options.partitions.map((spec, i) => {
    start += (spec.gapMiB ?? 0) * MiB;
    const info: PartitionInfo = { ...spec, number: i + 1, startByte: start, sizeBytes: spec.sizeMiB * MiB, files: new Map(), deleted: [] };
    start += info.sizeBytes;
    return info;
  });
  const size = start + (options.tailBytes ?? 64 * 1024);
  await writeFile(path, '');
  await truncate(path, size);
  const lines = infos.map((p) => `start=${p.startByte / SECTOR}, size=${p.sizeBytes / SECTOR}, type=${p.type ?? defaultType(p.fs, options.scheme)}`);
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path], { input: `label: ${options.scheme === 'gpt' ? 'gpt' : 'dos'}\nunit: sectors\n\n${lines.join('\n')}\n` });
  // Bytes the bootloader may read in the gaps: random, so a map that skipped them would show.
  for (const p of infos) if (p.gapMiB) await writeRandom(path, p.startByte - p.gapMiB * MiB, p.gapMiB * MiB);
  const staging = await mkdtemp(join(dir, 'staging-'));
  try {
    for (const p of infos) await formatPartition(path, p, staging, options.populate !== false);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { path, size, scheme: options.scheme, partitions: infos };
}

function defaultType(fs: FsKind, scheme: 'mbr' | 'gpt'): string {
  if (scheme === 'gpt') return fs.startsWith('fat') ? 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' : '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
  return { fat12: '1', fat16: 'e', fat32: 'c' }[fs as 'fat12'] ?? '83';
}

export async function writeRandom(path: string, position: number, length: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    for (let done = 0; done < length; done += 4 * MiB) await file.write(randomBytes(Math.min(4 * MiB, length - done)), 0, undefined, position + done);
  } finally {
    await file.close();
  }
}

async function formatPartition(path: string, p: PartitionInfo, staging: string, populate: boolean): Promise<void> {
  const local = await mkdtemp(join(staging, `p${p.number}-`));
  if (p.fs === 'raw') {
    await writeRandom(path, p.startByte, p.sizeBytes);
    return;
  }
  if (p.fs.startsWith('fat')) {
    await run('mkfs.vfat', ['-F', p.fs.slice(3), '-n', p.label ?? 'BOOT', '--offset', String(p.startByte / SECTOR), path, String(p.sizeBytes / 1024)]);
    if (populate) await populateFat(path, p, local);
    return;
  }
  const type = p.fs === 'ext4-no-flex' ? 'ext4' : p.fs;
  const tree = join(local, 'tree');
  const initial = new Map<string, Buffer>([
    ['/etc/hostname', Buffer.from('raspberrypi\n')],
    ['/usr/lib/payload.bin', randomBytes(300 * 1024)],
    ['/var/zeros.bin', Buffer.alloc(64 * 1024)],
  ]);
  for (const [file, content] of initial) {
    await mkdir(join(tree, file, '..'), { recursive: true });
    await writeFile(join(tree, file), content);
  }
  // Small groups (2048 blocks of 4 KiB or 8192 of 1 KiB), so that even small filesystems have many, some BLOCK_UNINIT.
  const blockArgs = p.sizeMiB >= 32 ? ['-b', '4096', '-g', '2048'] : ['-b', '1024'];
  await run('mke2fs', [
    '-q', '-F', '-t', type, ...blockArgs, '-L', p.label ?? 'rootfs',
    ...(p.fs === 'ext4-no-flex' ? ['-O', '^flex_bg'] : []),
    '-E', `offset=${p.startByte},root_owner=0:0,nodiscard`,
    ...(populate ? ['-d', tree] : []),
    path, `${p.sizeBytes / 1024}k`,
  ]);
  if (populate) {
    for (const [file, content] of initial) p.files.set(file, content);
    await populateExt(path, p, local);
  }
}

/** Many small files, every other one deleted, then a big file into the holes; then a big file written and deleted. */
async function populateFat(path: string, p: PartitionInfo, local: string): Promise<void> {
  const image = `${path}@@${p.startByte}`;
  const small = await writeLocalFiles(local, 'S', 40, 3000);
  await run('mcopy', ['-i', image, ...small.map((f) => f.local), '::/'], { env: MTOOLS_ENV });
  await run('mdel', ['-i', image, ...small.filter((_, i) => i % 2 === 0).map((f) => `::/${f.name}`)], { env: MTOOLS_ENV });
  for (const f of small.filter((_, i) => i % 2 === 1)) p.files.set(`/${f.name}`, f.content);
  // FAT32 keeps a next-free hint in its FSInfo sector and mtools follows it past the holes: point it back at the start.
  if (p.fs === 'fat32') await setFsInfoNextFree(path, p.startByte, 2);
  await run('mmd', ['-i', image, '::/overlays'], { env: MTOOLS_ENV });
  const files = new Map<string, Buffer>([
    ['/overlays/BIG.BIN', randomBytes(400 * 1024)],
    ['/CONFIG.TXT', Buffer.from('arm_64bit=1\n')],
    ['/ZEROS.BIN', Buffer.alloc(96 * 1024)],
  ]);
  for (const [name, content] of files) {
    const file = join(local, name.replaceAll('/', '_'));
    await writeFile(file, content);
    await run('mcopy', ['-i', image, file, `::${name}`], { env: MTOOLS_ENV });
    p.files.set(name, content);
  }
  // A file deleted last: its clusters are free again but still hold its bytes in the image.
  const deleted = join(local, 'GONE.BIN');
  await writeFile(deleted, randomBytes(2 * MiB));
  await run('mcopy', ['-i', image, deleted, '::/GONE.BIN'], { env: MTOOLS_ENV });
  const chain = await run('mshowfat', ['-i', image, '::/GONE.BIN'], { env: MTOOLS_ENV });
  await run('mdel', ['-i', image, '::/GONE.BIN'], { env: MTOOLS_ENV });
  const geometry = await fatGeometry(path, p.startByte);
  for (const match of chain.matchAll(/<(\d+)(?:-(\d+))?>/g)) {
    const first = Number(match[1]);
    const last = Number(match[2] ?? match[1]);
    p.deleted.push({ offset: p.startByte + geometry.clusterByte(first), length: (last - first + 1) * geometry.clusterBytes });
  }
}

async function setFsInfoNextFree(path: string, startByte: number, cluster: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const bs = Buffer.alloc(512);
    await file.read(bs, 0, 512, startByte);
    const fsInfo = startByte + bs.readUInt16LE(48) * bs.readUInt16LE(11);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(cluster);
    await file.write(value, 0, 4, fsInfo + 492);
  } finally {
    await file.close();
  }
}

async function populateExt(path: string, p: PartitionInfo, local: string): Promise<void> {
  const device = `${path}?offset=${p.startByte}`;
  const small = await writeLocalFiles(local, 's', 40, 5000);
  const big = join(local, 'big.bin');
  const bigContent = randomBytes(700 * 1024);
  await writeFile(big, bigContent);
  const commands = [
    'mkdir /data',
    ...small.map((f) => `write ${f.local} /data/${f.name}`),
    ...small.filter((_, i) => i % 2 === 0).map((f) => `rm /data/${f.name}`),
    `write ${big} /data/big.bin`,
  ];
  await debugfsScript(device, local, commands);
  for (const f of small.filter((_, i) => i % 2 === 1)) p.files.set(`/data/${f.name}`, f.content);
  p.files.set('/data/big.bin', bigContent);
  // A file deleted last: its blocks are free again but still hold its bytes in the image.
  const gone = join(local, 'gone.bin');
  await writeFile(gone, randomBytes(2 * MiB));
  await debugfsScript(device, local, [`write ${gone} /gone.bin`]);
  const blocks = (await run('debugfs', ['-R', 'blocks /gone.bin', device])).trim().split(/\s+/).map(Number);
  await debugfsScript(device, local, ['rm /gone.bin']);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(await run('dumpe2fs', ['-h', device]))![1]);
  for (const block of blocks) p.deleted.push({ offset: p.startByte + block * blockSize, length: blockSize });
}

async function debugfsScript(device: string, local: string, commands: string[]): Promise<void> {
  const script = join(local, 'debugfs.cmds');
  await writeFile(script, `${commands.join('\n')}\n`);
  await run('debugfs', ['-w', '-f', script, device]);
}

async function writeLocalFiles(dir: string, prefix: string, count: number, size: number) {
  const files = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${String(i).padStart(3, '0')}.DAT`;
    const content = randomBytes(size + i * 37);
    await writeFile(join(dir, name), content);
    files.push({ name, local: join(dir, name), content });
  }
  return files;
}

async function fatGeometry(path: string, startByte: number) {
  const file = await open(path, 'r');
  try {
    const bs = Buffer.alloc(512);
    await file.read(bs, 0, 512, startByte);
    const bps = bs.readUInt16LE(11);
    const spc = bs[13]!;
    const fatSectors = bs.readUInt16LE(22) || bs.readUInt32LE(36);
    const dataStart = bs.readUInt16LE(14) + bs[16]! * fatSectors + Math.ceil((bs.readUInt16LE(17) * 32) / bps);
    return { clusterBytes: spc * bps, clusterByte: (cluster: number) => (dataStart + (cluster - 2) * spc) * bps };
  } finally {
    await file.close();
  }
}

/** A file of `size` random bytes with only the mapped ranges copied in from `image`. */
export async function copyMappedOntoRandom(image: string, ranges: ByteRange[], target: string, size: number): Promise<void> {
  await writeFile(target, '');
  await writeRandom(target, 0, size);
  const from = await open(image, 'r');
  const to = await open(target, 'r+');
  try {
    for (const range of ranges) {
      for (let done = 0; done < range.length; done += 4 * MiB) {
        const length = Math.min(4 * MiB, range.length - done);
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await from.read(buffer, 0, length, range.offset + done);
        if (bytesRead !== length) throw new Error(`short read at ${range.offset + done}`);
        await to.write(buffer, 0, length, range.offset + done);
      }
    }
  } finally {
    await from.close();
    await to.close();
  }
  if ((await stat(target)).size !== size) throw new Error('target size changed');
}

/** Copies a partition out into its own file (fsck.vfat cannot open one at an offset). */
export async function extractPartition(image: string, startByte: number, sizeBytes: number, out: string): Promise<string> {
  await run('dd', [`if=${image}`, `of=${out}`, 'bs=1M', `skip=${startByte}`, `count=${sizeBytes}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
  return out;
}

/** Checks a partition's filesystem read-only and reads every expected file back; rejects on any difference. */
export async function checkPartition(disk: string, p: PartitionInfo, scratch: string): Promise<void> {
  const out = await mkdtemp(join(scratch, `check-p${p.number}-`));
  try {
    if (p.fs.startsWith('fat')) {
      const part = await extractPartition(disk, p.startByte, p.sizeBytes, join(out, 'part.img'));
      await run('fsck.vfat', ['-n', part]);
      await mkdir(join(out, 'files'));
      await run('mcopy', ['-s', '-n', '-i', part, '::/*', join(out, 'files')], { env: MTOOLS_ENV });
    } else if (p.fs.startsWith('ext')) {
      await run('e2fsck', ['-fn', `${disk}?offset=${p.startByte}`]);
      await mkdir(join(out, 'files'));
      await run('debugfs', ['-R', `rdump / ${join(out, 'files')}`, `${disk}?offset=${p.startByte}`]);
    } else {
      return;
    }
    const found = await listFiles(join(out, 'files'));
    for (const [name, content] of p.files) {
      const got = found.get(name.toLowerCase());
      if (got === undefined) throw new Error(`p${p.number}: ${name} is missing`);
      if (!(await readFile(got)).equals(content)) throw new Error(`p${p.number}: ${name} differs`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Lower-cased path inside the tree → file on disk. */
async function listFiles(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.set(`/${relative(root, full)}`.toLowerCase(), full);
  }
  return files;
}

/** Bytes of `range` that the map covers. */
export function coveredBytes(ranges: ByteRange[], range: ByteRange): number {
  let covered = 0;
  for (const r of ranges) {
    const start = Math.max(r.offset, range.offset);
    const end = Math.min(r.offset + r.length, range.offset + range.length);
    if (end > start) covered += end - start;
  }
  return covered;
}

/** The absolute byte extents of the partition's biggest kept file, which must be fragmented: [path, extents]. */
export async function fileExtents(image: string, p: PartitionInfo): Promise<[string, ByteRange[]]> {
  const [name] = [...p.files].sort((a, b) => b[1].length - a[1].length)[0]!;
  if (p.fs.startsWith('fat')) {
    const chain = await run('mshowfat', ['-i', `${image}@@${p.startByte}`, `::${name}`], { env: MTOOLS_ENV });
    const geometry = await fatGeometry(image, p.startByte);
    const extents = [...chain.matchAll(/<(\d+)(?:-(\d+))?>/g)].map((m) => ({
      offset: p.startByte + geometry.clusterByte(Number(m[1])),
      length: (Number(m[2] ?? m[1]) - Number(m[1]) + 1) * geometry.clusterBytes,
    }));
    if (extents.length < 2) throw new Error(`${name} is not fragmented`);
    return [name, extents];
  }
  const device = `${image}?offset=${p.startByte}`;
  // Data extents only ("(0-97):2184-2281"), not the extent tree's own blocks ("(ETB0):1234").
  const stat = await run('debugfs', ['-R', `stat ${name}`, device]);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(await run('dumpe2fs', ['-h', device]))![1]);
  const extents = [...stat.matchAll(/\(\d+(?:-\d+)?\):(\d+)(?:-(\d+))?/g)].map((m) => ({
    offset: p.startByte + Number(m[1]) * blockSize,
    length: (Number(m[2] ?? m[1]) - Number(m[1]) + 1) * blockSize,
  }));
  if (extents.length < 2) throw new Error(`${name} is not fragmented`);
  return [name, extents];
}

/** `ranges` without the bytes of `holes`. */
export function subtractRanges(ranges: ByteRange[], holes: ByteRange[]): ByteRange[] {
  let out = ranges.map((r) => ({ ...r }));
  for (const hole of holes) {
    const next: ByteRange[] = [];
    for (const r of out) {
      const [start, end, hs, he] = [r.offset, r.offset + r.length, hole.offset, hole.offset + hole.length];
      if (he <= start || hs >= end) {
        next.push(r);
        continue;
      }
      if (hs > start) next.push({ offset: start, length: hs - start });
      if (he < end) next.push({ offset: he, length: end - he });
    }
    out = next;
  }
  return out;
}
