// Small but well-formed arm64 kernel modules (ELF64 relocatable objects with a .modinfo section) and a
// /lib/modules/<version> tree of them, compressed with the real xz, zstd and gzip programs as kernels ship them.
// There is no kernel on a CI machine to take modules from; the collector only reads ELF sections and .modinfo.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { EM_AARCH64 } from '../elf.reader.js';

const run = promisify(execFile);

export interface ModuleSpec {
  name: string;
  depends?: string[];
  /** Bytes for .text, so tests can tell one module's contents from another's. */
  code?: Buffer;
}

const SHT_PROGBITS = 1;
const SHT_STRTAB = 3;
const ET_REL = 1;

/** An ELF64 little-endian relocatable for arm64 with .text, .modinfo and .shstrtab, as `modinfo` reads them. */
export function buildKernelModule(spec: ModuleSpec): Buffer {
  const modinfo = Buffer.from(
    [`license=GPL`, `depends=${(spec.depends ?? []).join(',')}`, `name=${spec.name}`, `vermagic=6.6.51+rpt-rpi-v8 SMP preempt mod_unload modversions aarch64`]
      .map((entry) => `${entry}\0`)
      .join(''),
  );
  const text = spec.code ?? Buffer.from(`code of ${spec.name}`);
  const names = ['', '.text', '.modinfo', '.shstrtab'];
  const shstrtab = Buffer.from(names.map((n) => `${n}\0`).join(''));
  const nameOffset = (name: string) => shstrtab.indexOf(Buffer.from(`${name}\0`));
  const sections = [
    { name: '.text', type: SHT_PROGBITS, data: text },
    { name: '.modinfo', type: SHT_PROGBITS, data: modinfo },
    { name: '.shstrtab', type: SHT_STRTAB, data: shstrtab },
  ];
  const parts: Buffer[] = [];
  let offset = 64;
  const placed = sections.map((section) => {
    const at = offset;
    parts.push(section.data);
    offset += section.data.length;
    return { ...section, offset: at };
  });
  const padding = (8 - (offset % 8)) % 8;
  parts.push(Buffer.alloc(padding));
  const shoff = offset + padding;

  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeUInt16LE(ET_REL, 0x10);
  header.writeUInt16LE(EM_AARCH64, 0x12);
  header.writeUInt32LE(1, 0x14);
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x34);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(placed.length + 1, 0x3c);
  header.writeUInt16LE(placed.length, 0x3e);

  const table = Buffer.alloc(64 * (placed.length + 1));
  placed.forEach((section, i) => {
    const base = 64 * (i + 1);
    table.writeUInt32LE(nameOffset(section.name), base);
    table.writeUInt32LE(section.type, base + 4);
    table.writeBigUInt64LE(BigInt(section.offset), base + 0x18);
    table.writeBigUInt64LE(BigInt(section.data.length), base + 0x20);
    table.writeBigUInt64LE(1n, base + 0x30);
  });
  return Buffer.concat([header, ...parts, table]);
}

export type ModuleCompression = 'none' | 'xz' | 'zstd' | 'gzip';

const SUFFIX: Record<ModuleCompression, string> = { none: '.ko', xz: '.ko.xz', zstd: '.ko.zst', gzip: '.ko.gz' };

/** Compresses as the kernel's `make modules_install` does (xz: CRC32 check and a 1 MiB dictionary). */
async function compress(data: Buffer, compression: ModuleCompression, scratch: string): Promise<Buffer> {
  if (compression === 'none') return data;
  const plain = `${scratch}.plain`;
  await writeFile(plain, data);
  const args: Record<Exclude<ModuleCompression, 'none'>, [string, string[]]> = {
    xz: ['xz', ['--check=crc32', '--lzma2=dict=1MiB', '--stdout', plain]],
    zstd: ['zstd', ['-q', '-T0', '--stdout', plain]],
    gzip: ['gzip', ['-n', '-9', '--stdout', plain]],
  };
  const [command, commandArgs] = args[compression];
  try {
    const { stdout } = await run(command, commandArgs, { encoding: 'buffer', maxBuffer: 64 << 20 });
    return stdout;
  } finally {
    await rm(plain, { force: true });
  }
}

export interface TreeModule extends ModuleSpec {
  /** Folder below the version folder, e.g. kernel/drivers/net/usb. */
  dir: string;
  compression: ModuleCompression;
}

export interface ModuleTree {
  root: string;
  /** Uncompressed bytes of each module by name. */
  plain: Map<string, Buffer>;
  /** Path of each module below the root, as modules.dep names it. */
  paths: Map<string, string>;
}

/**
 * Writes a /lib/modules/<version>-like tree under `root`, and modules.dep as depmod writes it (each module's
 * dependencies, all of them, by path) unless `withModulesDep` is false.
 */
export async function writeModuleTree(root: string, modules: TreeModule[], options: { withModulesDep?: boolean } = {}): Promise<ModuleTree> {
  const plain = new Map<string, Buffer>();
  const paths = new Map<string, string>();
  for (const module of modules) {
    const data = buildKernelModule(module);
    const rel = `${module.dir}/${module.name}${SUFFIX[module.compression]}`;
    const file = join(root, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, await compress(data, module.compression, file));
    plain.set(module.name, data);
    paths.set(module.name, rel);
  }
  if (options.withModulesDep !== false) {
    const byName = new Map(modules.map((m) => [m.name, m]));
    const closure = (name: string, seen = new Set<string>()): string[] => {
      for (const dep of byName.get(name)?.depends ?? []) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        closure(dep, seen);
      }
      return [...seen];
    };
    const lines = modules.map((m) => `${paths.get(m.name)}:${closure(m.name).map((dep) => ` ${paths.get(dep)}`).join('')}\n`);
    await writeFile(join(root, 'modules.dep'), lines.join(''));
  }
  return { root, plain, paths };
}
