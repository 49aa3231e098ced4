// The ext4 root partition, inspected and edited in place with e2fsprogs' debugfs (`device?offset=N`), so
// nothing is mounted. Each operation is one debugfs session (opening the filesystem is the slow part on an SD
// card). debugfs exits 0 even when a command fails, so every change is read back by the caller.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLayoutError, runDiskTool } from './disk-tool.js';

export interface Ext4Stat {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget: string | null;
}

/** What a path holds: its inode, and the bytes of a regular file. Null when the path does not exist. */
export type Ext4Entry = (Ext4Stat & { content: Buffer | null }) | null;

/** One name in a directory listing (`ls -p`): no content is read. */
export interface Ext4DirEntry {
  name: string;
  type: 'regular' | 'directory' | 'symlink' | 'other';
  /** Permission bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/**
 * `file` replaces (or creates) a regular file owned by root unless uid/gid say otherwise; `remove` unlinks a file or
 * link, or removes a directory that the same change list has emptied first.
 */
export type Ext4Change =
  | { kind: 'file'; path: string; content: Buffer | string; mode?: number; uid?: number; gid?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'remove'; path: string };

export class Ext4Volume {
  private readonly spec: string;

  constructor(devicePath: string, offsetBytes: number) {
    if (devicePath.includes('?')) throw new DiskLayoutError(`the target path may not contain "?": ${devicePath}`);
    this.spec = `${devicePath}?offset=${offsetBytes}`;
  }

  /** Runs debugfs commands in one session; answers each command's output, in order. */
  private async session(commands: string[], writable = false): Promise<{ outputs: string[]; stderr: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-ext4-'));
    try {
      const script = join(dir, 'commands');
      await writeFile(script, commands.join('\n') + '\n');
      const result = await runDiskTool('debugfs', [...(writable ? ['-w'] : []), '-f', script, this.spec]);
      if (result.code !== 0) throw new DiskLayoutError(`debugfs failed on the root filesystem: ${problems(result.stderr) || `exit ${result.code}`}`);
      // With -f, debugfs echoes every command as "debugfs: <command>" before its output.
      const sections = result.stdout.toString('utf8').split(/^debugfs: /m).slice(1);
      if (sections.length !== commands.length) {
        throw new DiskLayoutError(`debugfs could not open the root filesystem: ${problems(result.stderr) || 'no output'}`);
      }
      return { outputs: sections.map((section) => section.slice(section.indexOf('\n') + 1)), stderr: result.stderr };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Refuses a filesystem that was not cleanly unmounted: writing past an unreplayed journal corrupts it. */
  async checkClean(): Promise<void> {
    const { outputs, stderr } = await this.session(['stats -h']);
    const text = outputs[0] ?? '';
    if (!/Filesystem features:/.test(text)) throw new DiskLayoutError(`the root partition is not a readable ext filesystem: ${problems(stderr) || 'no superblock'}`);
    if (/Filesystem features:.*\bneeds_recovery\b/.test(text)) {
      throw new DiskLayoutError('the root filesystem was not cleanly unmounted when the image was made (journal needs recovery); refusing to edit it');
    }
  }

  /**
   * Stats every path and reads every regular file among them, in one session. With `content: false` nothing is
   * read: a master's journal or logs can be larger than the installer's memory-backed temp space.
   */
  async inspect(paths: string[], { content: readContent = true } = {}): Promise<Map<string, Ext4Entry>> {
    const unique = [...new Set(paths)];
    if (unique.length === 0) return new Map();
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-ext4-dump-'));
    try {
      const perPath = readContent ? 2 : 1;
      const commands = unique.flatMap((path, i) => [`stat ${quote(path)}`, ...(readContent ? [`dump ${quote(path)} ${quote(join(dir, String(i)))}`] : [])]);
      const { outputs } = await this.session(commands);
      const entries = new Map<string, Ext4Entry>();
      for (const [i, path] of unique.entries()) {
        const info = parseStat(outputs[perPath * i] ?? '');
        if (!info) {
          entries.set(path, null);
          continue;
        }
        let content: Buffer | null = null;
        if (readContent && info.type === 'regular') {
          content = await readFile(join(dir, String(i))).catch(() => null);
          if (!content || content.length !== info.size) throw new DiskLayoutError(`debugfs could not read root:${path}`);
        }
        entries.set(path, { ...info, content });
      }
      return entries;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The entries of each directory (without "." and ".."), in one session; null for a path that is not a directory. */
  async list(dirs: string[]): Promise<Map<string, Ext4DirEntry[] | null>> {
    const unique = [...new Set(dirs)];
    const listings = new Map<string, Ext4DirEntry[] | null>();
    if (unique.length === 0) return listings;
    // `ls` of a missing path prints nothing on stdout, and of a regular file prints that file: stat tells them apart.
    const { outputs } = await this.session(unique.flatMap((dir) => [`stat ${quote(dir)}`, `ls -p ${quote(dir)}`]));
    for (const [i, dir] of unique.entries()) {
      const info = parseStat(outputs[2 * i] ?? '');
      listings.set(dir, info?.type === 'directory' ? parseListing(outputs[2 * i + 1] ?? '') : null);
    }
    return listings;
  }

  async stat(path: string): Promise<Ext4Stat | null> {
    return (await this.inspect([path])).get(path) ?? null;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== null;
  }

  /** The file's bytes, or null when it does not exist or is not a regular file. */
  async readFile(path: string): Promise<Buffer | null> {
    return (await this.inspect([path])).get(path)?.content ?? null;
  }

  /** Applies the changes in one session; missing parents of new entries are created (0755, root). */
  async apply(changes: Ext4Change[]): Promise<void> {
    const parents = [...new Set(changes.filter((c) => c.kind !== 'remove').flatMap((c) => parentsOf(c.path)))];
    const before = await this.inspect([...parents, ...changes.map((c) => c.path)], { content: false });
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-ext4-'));
    try {
      const lines: string[] = [];
      for (const parent of parents) {
        const info = before.get(parent);
        if (info && info.type !== 'directory') throw new DiskLayoutError(`root:${parent} exists but is not a directory`);
        // Only missing directories: debugfs's mkdir of an existing name leaves an orphaned directory inode.
        if (!info) lines.push(`mkdir ${quote(parent)}`);
      }
      for (const [n, change] of changes.entries()) {
        const existing = before.get(change.path);
        if (existing?.type === 'directory') {
          // rmdir refuses a directory that still has entries; the caller lists its contents' removal first.
          if (change.kind !== 'remove') throw new DiskLayoutError(`root:${change.path} is a directory`);
          lines.push(`rmdir ${quote(change.path)}`);
          continue;
        }
        if (existing) lines.push(`rm ${quote(change.path)}`);
        if (change.kind === 'file') {
          const local = join(dir, `f${n}`);
          await writeFile(local, change.content);
          lines.push(`write ${quote(local)} ${quote(change.path)}`);
          lines.push(`sif ${quote(change.path)} mode 0${(0o100000 | (change.mode ?? 0o644)).toString(8)}`);
          lines.push(`sif ${quote(change.path)} uid ${change.uid ?? 0}`, `sif ${quote(change.path)} gid ${change.gid ?? 0}`);
        } else if (change.kind === 'symlink') {
          lines.push(`symlink ${quote(change.path)} ${quote(change.target)}`);
        }
      }
      if (lines.length > 0) await this.session(lines, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Reads every change back (debugfs exits 0 even when a command failed); throws naming the first that did not take. */
  async checkApplied(changes: Ext4Change[]): Promise<void> {
    const files = changes.filter((change) => change.kind === 'file').map((change) => change.path);
    const after = new Map([
      ...(await this.inspect(changes.filter((change) => change.kind !== 'file').map((change) => change.path), { content: false })),
      ...(await this.inspect(files)),
    ]);
    for (const change of changes) {
      const info = after.get(change.path);
      if (change.kind === 'remove') {
        if (info) throw new DiskLayoutError(`root:${change.path} could not be removed`);
      } else if (change.kind === 'symlink') {
        if (info?.type !== 'symlink' || info.linkTarget !== change.target) throw new DiskLayoutError(`root:${change.path} is not a link to ${change.target}`);
      } else {
        if (!info?.content?.equals(Buffer.from(change.content))) throw new DiskLayoutError(`root:${change.path} does not hold what was written to it`);
        if (info.uid !== (change.uid ?? 0) || info.gid !== (change.gid ?? 0) || (info.mode & 0o7777) !== (change.mode ?? 0o644)) {
          throw new DiskLayoutError(`root:${change.path} has owner ${info.uid}:${info.gid} mode ${(info.mode & 0o7777).toString(8)}`);
        }
      }
    }
  }
}

/** `ls -p` prints "/inode/mode/uid/gid/name/size/" per entry (size empty for directories). */
function parseListing(text: string): Ext4DirEntry[] {
  const entries: Ext4DirEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line);
    if (!match || match[5] === '.' || match[5] === '..') continue;
    const mode = parseInt(match[2]!, 8);
    const format = mode & 0o170000;
    entries.push({
      name: match[5]!,
      type: format === 0o100000 ? 'regular' : format === 0o040000 ? 'directory' : format === 0o120000 ? 'symlink' : 'other',
      mode: mode & 0o7777,
      uid: Number(match[3]),
      gid: Number(match[4]),
      size: Number(match[6] || 0),
    });
  }
  return entries;
}

function parseStat(text: string): Ext4Stat | null {
  const head = /Type:\s+(\S+)\s+Mode:\s+(\d+)/.exec(text);
  if (!head) return null;
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(text);
  const size = /Size:\s+(\d+)/.exec(text);
  const link = /Fast link dest:\s+"(.*)"/.exec(text);
  return {
    type: head[1]!,
    mode: parseInt(head[2]!, 8),
    uid: Number(owner?.[1] ?? -1),
    gid: Number(owner?.[2] ?? -1),
    size: Number(size?.[1] ?? 0),
    linkTarget: link ? link[1]! : null,
  };
}

/** "/etc/a/b" → ["/etc", "/etc/a"] */
function parentsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

const quote = (path: string): string => {
  if (/["\n]/.test(path)) throw new DiskLayoutError(`unsupported character in path ${JSON.stringify(path)}`);
  return `"${path}"`;
};

/** debugfs's stderr without its version banner. */
function problems(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^debugfs \d/.test(line))
    .slice(0, 3)
    .join('; ');
}
