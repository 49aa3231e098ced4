// Writes "newc" cpio archives, the format the Linux kernel unpacks as an initramfs.
// Output is reproducible: entries are sorted, owned by root, stamped with one fixed time, and numbered in order,
// so the same inputs always give the same bytes.

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

export interface CpioOptions {
  /** Seconds since the epoch stamped on every entry (SOURCE_DATE_EPOCH style). */
  mtime?: number;
}

/** Normalises an archive path: no leading "/" or "./", no empty, "." or ".." segments. */
export function normaliseCpioPath(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.some((part) => part === '..')) throw new Error(`cpio: invalid path "${path}"`);
  return parts.join('/');
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function encodeEntry(ino: number, name: string, mode: number, data: Buffer, mtime: number, rdev = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' +
      hex8(ino) + hex8(mode) + hex8(0) + hex8(0) + hex8(mode & S_IFDIR ? 2 : 1) + hex8(mtime) + hex8(data.length) +
      hex8(0) + hex8(0) + hex8(rdev[0]!) + hex8(rdev[1]!) + hex8(nameBytes.length) + hex8(0),
    'ascii',
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/**
 * Builds the archive. Parent directories that are not listed are added; a path listed twice is an error, because
 * the kernel would silently keep the last one and hide a packaging mistake.
 */
export function createCpioArchive(entries: readonly CpioEntry[], options: CpioOptions = {}): Buffer {
  const mtime = options.mtime ?? 0;
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    const path = normaliseCpioPath(entry.path);
    if (byPath.has(path)) throw new Error(`cpio: "${path}" is listed twice`);
    byPath.set(path, { ...entry, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { kind: 'dir', path: parent });
      else if (existing.kind !== 'dir') throw new Error(`cpio: "${parent}" is not a directory but "${path}" is inside it`);
    }
  }
  // Byte-wise order puts every directory before its contents.
  const paths = [...byPath.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const path of paths) {
    const entry = byPath.get(path)!;
    if (entry.kind === 'dir') chunks.push(...encodeEntry(ino, path, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0), mtime));
    else if (entry.kind === 'file') chunks.push(...encodeEntry(ino, path, S_IFREG | (entry.mode ?? 0o644), entry.data, mtime));
    else if (entry.kind === 'symlink') chunks.push(...encodeEntry(ino, path, S_IFLNK | 0o777, Buffer.from(entry.target, 'utf8'), mtime));
    else chunks.push(...encodeEntry(ino, path, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), mtime, [entry.major, entry.minor]));
    ino += 1;
  }
  chunks.push(...encodeEntry(0, TRAILER, 0, Buffer.alloc(0), 0));
  return Buffer.concat(chunks);
}

/** Reads a newc archive back (used to inspect built initramfs images). */
export function readCpioArchive(archive: Buffer): CpioEntry[] {
  const entries: CpioEntry[] = [];
  let offset = 0;
  for (;;) {
    if (offset + 110 > archive.length) throw new Error('cpio: truncated header');
    const header = archive.toString('ascii', offset, offset + 110);
    if (!header.startsWith('070701')) throw new Error(`cpio: bad magic at offset ${offset}`);
    const field = (index: number) => Number.parseInt(header.slice(6 + index * 8, 14 + index * 8), 16);
    const mode = field(1);
    const fileSize = field(6);
    const nameSize = field(11);
    const nameStart = offset + 110;
    const name = archive.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + ((4 - ((110 + nameSize) % 4)) % 4);
    const data = archive.subarray(dataStart, dataStart + fileSize);
    offset = dataStart + fileSize + ((4 - (fileSize % 4)) % 4);
    if (name === TRAILER) return entries;
    const type = mode & 0o170000;
    if (type === S_IFDIR) entries.push({ kind: 'dir', path: name, mode: mode & 0o7777 });
    else if (type === S_IFCHR) entries.push({ kind: 'chardev', path: name, major: field(9), minor: field(10), mode: mode & 0o7777 });
    else if (type === S_IFLNK) entries.push({ kind: 'symlink', path: name, target: data.toString('utf8') });
    else entries.push({ kind: 'file', path: name, data: Buffer.from(data), mode: mode & 0o7777 });
  }
}
