// Just enough ELF reading to assemble an arm64 initramfs on any host without running arm64 code: the shared
// libraries a program needs (DT_NEEDED), its interpreter, and a kernel module's .modinfo (name, depends).

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PT_INTERP = 3;
const SHT_DYNAMIC = 6;
const DT_NEEDED = 1;

export interface ElfInfo {
  machine: number;
  /** Shared libraries the file names as DT_NEEDED, in order. */
  needed: string[];
  interpreter: string | null;
}

export const EM_AARCH64 = 183;
export const EM_X86_64 = 62;

export function isElf(data: Buffer): boolean {
  return data.length >= 64 && data.subarray(0, 4).equals(ELF_MAGIC);
}

interface Section { name: string; type: number; offset: number; size: number; link: number }

function assertElf64(data: Buffer): void {
  if (!isElf(data)) throw new Error('not an ELF file');
  if (data[4] !== 2 || data[5] !== 1) throw new Error('only 64-bit little-endian ELF files are supported');
}

function readSections(data: Buffer): Section[] {
  const shoff = Number(data.readBigUInt64LE(0x28));
  const shentsize = data.readUInt16LE(0x3a);
  const shnum = data.readUInt16LE(0x3c);
  const shstrndx = data.readUInt16LE(0x3e);
  if (shoff === 0 || shnum === 0) return [];
  const raw = Array.from({ length: shnum }, (_, i) => {
    const base = shoff + i * shentsize;
    return {
      nameOffset: data.readUInt32LE(base),
      type: data.readUInt32LE(base + 4),
      offset: Number(data.readBigUInt64LE(base + 0x18)),
      size: Number(data.readBigUInt64LE(base + 0x20)),
      link: data.readUInt32LE(base + 0x28),
    };
  });
  const names = raw[shstrndx];
  return raw.map((s) => ({
    name: names ? readCString(data, names.offset + s.nameOffset) : '',
    type: s.type,
    offset: s.offset,
    size: s.size,
    link: s.link,
  }));
}

function readCString(data: Buffer, offset: number): string {
  const end = data.indexOf(0, offset);
  return data.toString('utf8', offset, end < 0 ? data.length : end);
}

export function readElfInfo(data: Buffer): ElfInfo {
  assertElf64(data);
  const machine = data.readUInt16LE(0x12);
  let interpreter: string | null = null;
  const phoff = Number(data.readBigUInt64LE(0x20));
  const phentsize = data.readUInt16LE(0x36);
  const phnum = data.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i += 1) {
    const base = phoff + i * phentsize;
    if (data.readUInt32LE(base) === PT_INTERP) {
      const offset = Number(data.readBigUInt64LE(base + 8));
      interpreter = readCString(data, offset);
    }
  }
  const sections = readSections(data);
  const needed: string[] = [];
  for (const dynamic of sections.filter((s) => s.type === SHT_DYNAMIC)) {
    const strtab = sections[dynamic.link];
    if (!strtab) continue;
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
      const tag = Number(data.readBigInt64LE(at));
      if (tag === 0) break;
      if (tag === DT_NEEDED) needed.push(readCString(data, strtab.offset + Number(data.readBigUInt64LE(at + 8))));
    }
  }
  return { machine, needed, interpreter };
}

/** A kernel module's .modinfo as key → values (a key such as "alias" may repeat). */
export function readModinfo(data: Buffer): Map<string, string[]> {
  assertElf64(data);
  const section = readSections(data).find((s) => s.name === '.modinfo');
  if (!section) throw new Error('no .modinfo section: not a kernel module');
  const info = new Map<string, string[]>();
  for (const item of data.toString('utf8', section.offset, section.offset + section.size).split('\0')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq);
    info.set(key, [...(info.get(key) ?? []), item.slice(eq + 1)]);
  }
  return info;
}
