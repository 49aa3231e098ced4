// The ext4 root partition, inspected and edited in place with e2fsprogs' debugfs (`device?offset=N`), so
// nothing is mounted. debugfs exits 0 even when a command fails, so every change is read back by the caller.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstallerError } from './installer.errors.js';
import { runTool } from './tool.runner.js';

export interface Ext4Stat {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkTarget: string | null;
}

export type Ext4Change =
  | { kind: 'file'; path: string; content: Buffer | string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'remove'; path: string };

export class Ext4Volume {
  private readonly spec: string;

  constructor(devicePath: string, offsetBytes: number) {
    if (devicePath.includes('?')) throw new InstallerError('CUSTOMIZE', `the target path may not contain "?": ${devicePath}`);
    this.spec = `${devicePath}?offset=${offsetBytes}`;
  }

  private async run(command: string): Promise<{ stdout: Buffer; stderr: string }> {
    const result = await runTool('debugfs', ['-R', command, this.spec]);
    if (result.code !== 0) throw new InstallerError('CUSTOMIZE', `debugfs ${command.split(' ')[0]} failed: ${problems(result.stderr) || `exit ${result.code}`}`);
    return result;
  }

  /** Refuses a filesystem that was not cleanly unmounted: writing past an unreplayed journal corrupts it. */
  async checkClean(): Promise<void> {
    const { stdout, stderr } = await this.run('stats -h');
    const text = stdout.toString('utf8');
    if (!/Filesystem features:/.test(text)) throw new InstallerError('CUSTOMIZE', `the root partition is not a readable ext filesystem: ${problems(stderr) || 'no superblock'}`);
    if (/Filesystem features:.*\bneeds_recovery\b/.test(text)) {
      throw new InstallerError('CUSTOMIZE', 'the root filesystem was not cleanly unmounted when the image was made (journal needs recovery); refusing to edit it');
    }
  }

  async stat(path: string): Promise<Ext4Stat | null> {
    const { stdout, stderr } = await this.run(`stat ${quote(path)}`);
    const text = stdout.toString('utf8');
    const head = /Type:\s+(\S+)\s+Mode:\s+(\d+)/.exec(text);
    if (!head) {
      if (/not found/i.test(stderr)) return null;
      throw new InstallerError('CUSTOMIZE', `debugfs could not stat ${path}: ${problems(stderr) || 'unexpected output'}`);
    }
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

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== null;
  }

  /** The file's bytes, or null when it does not exist or is not a regular file. */
  async readFile(path: string): Promise<Buffer | null> {
    const info = await this.stat(path);
    if (!info || info.type !== 'regular') return null;
    const { stdout } = await this.run(`cat ${quote(path)}`);
    if (stdout.length !== info.size) throw new InstallerError('CUSTOMIZE', `debugfs returned ${stdout.length} of the ${info.size} bytes of ${path}`);
    return stdout;
  }

  /** Applies the changes in one debugfs session; parents of new files are created as needed (0755, root). */
  async apply(changes: Ext4Change[]): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-ext4-'));
    try {
      const lines: string[] = [];
      const knownDirs = new Set<string>(['/']);
      let n = 0;
      for (const change of changes) {
        if (change.kind !== 'remove') {
          for (const parent of parentsOf(change.path)) {
            if (knownDirs.has(parent)) continue;
            knownDirs.add(parent);
            // Only missing directories: debugfs's mkdir of an existing name leaves an orphaned directory inode.
            const info = await this.stat(parent);
            if (info && info.type !== 'directory') throw new InstallerError('CUSTOMIZE', `root:${parent} exists but is not a directory`);
            if (!info) lines.push(`mkdir ${quote(parent)}`);
          }
        }
        if (change.kind === 'remove' || (await this.stat(change.path))) lines.push(`rm ${quote(change.path)}`);
        if (change.kind === 'file') {
          const local = join(dir, `f${n++}`);
          await writeFile(local, change.content);
          lines.push(`write ${quote(local)} ${quote(change.path)}`);
          lines.push(`sif ${quote(change.path)} mode 0${(0o100000 | (change.mode ?? 0o644)).toString(8)}`);
          lines.push(`sif ${quote(change.path)} uid 0`, `sif ${quote(change.path)} gid 0`);
        } else if (change.kind === 'symlink') {
          lines.push(`symlink ${quote(change.path)} ${quote(change.target)}`);
        }
      }
      const script = join(dir, 'commands');
      await writeFile(script, lines.join('\n') + '\n');
      const result = await runTool('debugfs', ['-w', '-f', script, this.spec]);
      if (result.code !== 0) throw new InstallerError('CUSTOMIZE', `debugfs could not edit the root filesystem: ${problems(result.stderr) || `exit ${result.code}`}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** "/etc/a/b" → ["/etc", "/etc/a"] */
function parentsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

const quote = (path: string): string => {
  if (/["\n]/.test(path)) throw new InstallerError('CUSTOMIZE', `unsupported character in path ${JSON.stringify(path)}`);
  return `"${path}"`;
};

/** debugfs's stderr without its version banner and the echo of each command. */
function problems(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^debugfs \d/.test(line))
    .slice(0, 3)
    .join('; ');
}
