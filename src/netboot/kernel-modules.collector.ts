// Picks kernel modules (with everything they depend on) out of a kernel's /lib/modules/<version> tree, for an
// initramfs overlay that /init loads in order. Raspberry Pi kernels have their Ethernet, SD and NVMe drivers
// built in; anything else (a USB Ethernet adapter) and a generic kernel's drivers (Debian's arm64 kernel under
// QEMU: virtio) come from here.
//
// Raspberry Pi OS ships its modules compressed (.ko.xz; other kernels use .ko.zst or .ko.gz). They are decompressed
// here, when the initramfs is built, and go in as plain .ko files: /init loads them with BusyBox's insmod, which
// reads a compressed module only in the formats its build happened to enable (never zstd), and the kernel itself
// takes compressed modules only through finit_module() with a flag BusyBox does not pass, and only when built with
// CONFIG_MODULE_DECOMPRESS. The initramfs is compressed as a whole, so nothing is lost in size.
//
// Which file is a module and what it needs come from modules.dep (depmod's own list, what modprobe trusts) when the
// tree has one; a tree without it (a kernel package before depmod ran) is walked and each module's .modinfo read.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createCpioArchive, type CpioEntry } from './cpio.writer.js';
import { readModinfo } from './elf.reader.js';

export const MODULE_LOAD_ORDER = 'usr/lib/modules/pitcrew/load.order';

/** Module names are compared as the kernel does: "-" and "_" are the same. */
function canonical(name: string): string {
  return name.replace(/-/g, '_');
}

const MODULE_FILE = /\.ko(\.xz|\.zst|\.gz)?$/;

/** "kernel/drivers/net/usb/r8152.ko.xz" → "r8152". */
function moduleNameOf(path: string): string | null {
  const name = basename(path);
  return MODULE_FILE.test(name) ? canonical(name.replace(MODULE_FILE, '')) : null;
}

interface IndexedModule {
  /** Path below the modules root. */
  rel: string;
  /** Names of every module it needs, from modules.dep; null when they must be read from its .modinfo. */
  depends: string[] | null;
}

/** modules.dep: "path: dependency-path …" per module, paths relative to the tree (absolute in very old depmods). */
export function parseModulesDep(text: string): Map<string, IndexedModule> {
  const index = new Map<string, IndexedModule>();
  const relativePath = (path: string) => path.replace(/^\/(usr\/)?lib\/modules\/[^/]+\//, '');
  for (const [number, line] of text.split('\n').entries()) {
    if (!line.trim() || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? moduleNameOf(line.slice(0, colon).trim()) : null;
    if (!name) throw new Error(`modules.dep line ${number + 1} is not "module.ko: dependencies": ${line.slice(0, 120)}`);
    const depends = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map((dep) => {
      const depName = moduleNameOf(dep);
      if (!depName) throw new Error(`modules.dep line ${number + 1} names "${dep}", which is not a module file`);
      return depName;
    });
    index.set(name, { rel: relativePath(line.slice(0, colon).trim()), depends });
  }
  return index;
}

async function walkModules(root: string): Promise<Map<string, IndexedModule>> {
  const index = new Map<string, IndexedModule>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = moduleNameOf(entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (name) index.set(name, { rel: relative(root, path), depends: null });
    }
  };
  await walk(root);
  return index;
}

async function indexModules(root: string): Promise<Map<string, IndexedModule>> {
  const modulesDep = await readFile(join(root, 'modules.dep'), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  return modulesDep === null ? walkModules(root) : parseModulesDep(modulesDep);
}

/** Known by their first bytes (a name can lie; the kernel's own loader goes by content too). */
const COMPRESSED_FORMATS = [
  { format: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz', apt: 'xz-utils' },
  { format: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd', apt: 'zstd' },
  { format: 'gzip', magic: Buffer.from([0x1f, 0x8b]), tool: null, apt: null },
] as const;

/** A module's bytes as the kernel loads them: decompressed if it was stored compressed. */
export async function readModuleFile(file: string): Promise<Buffer> {
  const stored = await readFile(file);
  const compressed = COMPRESSED_FORMATS.find((f) => stored.subarray(0, f.magic.length).equals(f.magic));
  let data: Buffer = stored;
  if (compressed) {
    try {
      data = compressed.tool === null ? gunzipSync(stored) : await decompressWith(compressed.tool, compressed.apt, stored);
    } catch (error) {
      throw new Error(`kernel module ${file} could not be decompressed (${compressed.format}): ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    readModinfo(data);
  } catch (error) {
    throw new Error(`${file} is not a kernel module${compressed ? ` once decompressed (${compressed.format})` : ''}: ${(error as Error).message}`, { cause: error });
  }
  return data;
}

/** Node 20's zlib has neither xz nor zstd: the programs do it (stdin to stdout). */
function decompressWith(tool: string, aptPackage: string, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, ['--decompress', '--stdout'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(`${tool} was not found: install it (apt-get install ${aptPackage})`) : error);
    });
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(stderr.trim().split('\n').at(-1) || `${tool} exited with code ${code}`));
    });
    // A tool that stops reading early (a damaged file) closes the pipe: its exit status tells why, not EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export interface CollectedModule {
  name: string;
  /** The file as it is in the tree (e.g. kernel/drivers/net/usb/r8152.ko.xz). */
  file: string;
  /** Its uncompressed bytes. */
  data: Buffer;
}

/** Returns `wanted` and their dependencies, dependencies first. Unknown names are an error. */
export async function collectKernelModules(modulesRoot: string, wanted: readonly string[]): Promise<CollectedModule[]> {
  const index = await indexModules(modulesRoot);
  if (index.size === 0) throw new Error(`no kernel modules (*.ko, *.ko.xz, *.ko.zst, *.ko.gz) under ${modulesRoot}`);
  const ordered: CollectedModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (raw: string, chain: string[]): Promise<void> => {
    const name = canonical(raw);
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`kernel modules depend on each other in a loop: ${[...chain, name].join(' → ')}`);
    const entry = index.get(name);
    if (!entry) throw new Error(`kernel module "${raw}" is not in ${modulesRoot}${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`);
    state.set(name, 'visiting');
    const data = await readModuleFile(join(modulesRoot, entry.rel));
    const depends = entry.depends ?? (readModinfo(data).get('depends')?.[0] ?? '').split(',').filter(Boolean);
    for (const dep of depends) await visit(dep, [...chain, name]);
    state.set(name, 'done');
    ordered.push({ name, file: entry.rel, data });
  };
  for (const name of wanted) await visit(name, []);
  return ordered;
}

/** Where /init looks: <dir>/<uname -r>/ for modules built for one kernel, else <dir>/ itself. */
const MODULES_DIR = 'usr/lib/modules/pitcrew';

export function moduleLoadOrderPath(version: string | null): string {
  return version === null ? MODULE_LOAD_ORDER : `${MODULES_DIR}/${version}/load.order`;
}

export interface ModuleSet {
  /** The kernel release (uname -r) they are for; null for the only kernel there is. */
  version: string | null;
  modules: readonly CollectedModule[];
}

/**
 * An initramfs overlay (uncompressed cpio, to append after the base image) holding the modules and their load order,
 * one folder per kernel release when the same initramfs serves several kernels (a Pi 4's and a Pi 5's).
 */
export function createModulesOverlay(sets: readonly ModuleSet[], mtime: number): Buffer {
  const entries: CpioEntry[] = [];
  for (const { version, modules } of sets) {
    const dir = version === null ? MODULES_DIR : `${MODULES_DIR}/${version}`;
    entries.push(...modules.map((m): CpioEntry => ({ kind: 'file', path: `${dir}/${m.name}.ko`, data: m.data })));
    entries.push({ kind: 'file', path: moduleLoadOrderPath(version), data: Buffer.from(modules.map((m) => `${m.name}.ko\n`).join('')) });
  }
  return createCpioArchive(entries, { mtime });
}
