// Kernel modules for the installer taken from the Raspberry Pi OS image the TFTP folder is prepared from: the image's
// kernels are the ones the boards boot, so only its own /usr/lib/modules/<version> fits them. Its root filesystem is
// read in place with debugfs (nothing mounted, no root needed): modules.dep first, then only the files the wanted
// modules need. Which version belongs to which kernel comes from the kernel file's own banner ("Linux version …").
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { collectKernelModules, parseModulesDep, type CollectedModule } from './kernel-modules.collector.js';

const run = promisify(execFile);

export class ImageModulesError extends Error {}

const LINUX_PARTITION = 0x83;
const MODULE_DIRS = ['/usr/lib/modules', '/lib/modules'];

/** Offset in bytes of the first Linux partition of an MBR disk image (Raspberry Pi OS's root filesystem). */
export async function findRootPartitionOffset(image: string): Promise<number> {
  const handle = await open(image, 'r');
  try {
    const mbr = Buffer.alloc(512);
    await handle.read(mbr, 0, 512, 0);
    for (let i = 0; i < 4; i += 1) {
      const entry = 446 + i * 16;
      if (mbr[entry + 4] === LINUX_PARTITION) return mbr.readUInt32LE(entry + 8) * 512;
    }
  } finally {
    await handle.close();
  }
  throw new ImageModulesError('the image has no Linux root partition to take kernel modules from');
}

/** "Linux version 6.6.51+rpt-rpi-v8 (…)" in the kernel file, gzip-compressed or not; null if absent. */
export function readKernelVersion(kernel: Buffer): string | null {
  let data = kernel;
  if (kernel[0] === 0x1f && kernel[1] === 0x8b) {
    try {
      data = gunzipSync(kernel);
    } catch {
      return null;
    }
  }
  const banner = /Linux version (\S+) \(/.exec(data.toString('latin1'));
  return banner ? banner[1]! : null;
}

async function debugfs(image: string, offset: number, commands: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pitcrew-debugfs-'));
  try {
    const script = join(dir, 'commands');
    await writeFile(script, commands.join('\n') + '\n');
    const { stdout } = await run('debugfs', ['-f', script, `${image}?offset=${offset}`], { maxBuffer: 64 << 20 }).catch((error: NodeJS.ErrnoException & { stderr?: string }) => {
      if (error.code === 'ENOENT') throw new ImageModulesError('debugfs was not found: install e2fsprogs (apt-get install e2fsprogs)');
      throw new ImageModulesError(`debugfs could not read the image's root filesystem: ${(error.stderr ?? error.message).trim()}`);
    });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The kernel versions under the image's modules folder, and which folder that is. */
export async function listImageKernelVersions(image: string, offset: number): Promise<{ dir: string; versions: string[] }> {
  for (const dir of MODULE_DIRS) {
    const listing = await debugfs(image, offset, [`ls -p "${dir}"`]);
    // `ls -p`: "/inode/mode/uid/gid/name/size/" per entry; directories have mode 040xxx.
    const versions = listing
      .split('\n')
      .map((line) => line.split('/'))
      .filter((fields) => fields.length >= 7 && /^0?40/.test(fields[2]!) && fields[5] !== '.' && fields[5] !== '..')
      .map((fields) => fields[5]!);
    if (versions.length) return { dir, versions: versions.sort() };
  }
  throw new ImageModulesError('the image has no kernel modules (no /usr/lib/modules/<version>)');
}

/**
 * The wanted modules and their dependencies, dependencies first, from the image's tree for `version`. Only
 * modules.dep and the files needed are copied out (into a temporary folder the collector then reads).
 */
export async function collectImageKernelModules(image: string, offset: number, modulesDir: string, version: string, wanted: readonly string[]): Promise<CollectedModule[]> {
  const root = `${modulesDir}/${version}`;
  const work = await mkdtemp(join(tmpdir(), 'pitcrew-modules-'));
  try {
    await debugfs(image, offset, [`dump "${root}/modules.dep" "${join(work, 'modules.dep')}"`]);
    const modulesDep = await readFile(join(work, 'modules.dep'), 'utf8').catch(() => null);
    if (modulesDep === null) throw new ImageModulesError(`the image has no ${root}/modules.dep (depmod never ran for this kernel?)`);
    const index = parseModulesDep(modulesDep);
    const needed = new Set<string>();
    const add = (name: string) => {
      const canonical = name.replace(/-/g, '_');
      const entry = index.get(canonical);
      if (!entry || needed.has(canonical)) return;
      needed.add(canonical);
      for (const dep of entry.depends ?? []) add(dep);
    };
    for (const name of wanted) add(name);
    const files = [...needed].map((name) => index.get(name)!.rel);
    for (const rel of files) await mkdir(dirname(join(work, rel)), { recursive: true });
    if (files.length) await debugfs(image, offset, files.map((rel) => `dump "${root}/${rel}" "${join(work, rel)}"`));
    // The collector names any module the image does not have, and checks every file copied out; its messages name
    // the image's folder, not the temporary one.
    return await collectKernelModules(work, wanted).catch((error: Error) => {
      throw new ImageModulesError(error.message.replaceAll(work, `${basename(image)}:${root}`), { cause: error });
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
