// The FAT boot partition, read and written in place with mtools (`-i device@@offset`): nothing is mounted, so
// the installer needs no loop devices and leaves no mount behind if it dies, and the server reads a stored image's
// boot files without root. Several files move in one mcopy. Failures are DiskLayoutErrors (the installer's
// customisation failures).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLayoutError, runDiskTool } from './disk-tool.js';

// Images are not floppies: skip mtools' geometry sanity checks.
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

export class FatVolume {
  private readonly image: string;

  constructor(devicePath: string, offsetBytes: number) {
    this.image = `${devicePath}@@${offsetBytes}`;
  }

  /** The files' bytes (null for those that do not exist), from the root directory of the partition. */
  async readFiles(names: string[]): Promise<Map<string, Buffer | null>> {
    checkNames(names);
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-fat-'));
    try {
      const out = join(dir, 'out');
      await mkdir(out);
      const result = await runDiskTool('mcopy', ['-n', '-i', this.image, ...names.map((name) => `::/${name}`), `${out}/`], { env: MTOOLS_ENV });
      // mcopy exits 0 when every file was copied, 1 when any was missing (it copies the others all the same). Its
      // verdict is the exit status; stderr may carry warnings (a loop or nbd device has no geometry), so it is
      // only read when mcopy failed, and then every complaint must be about a file we asked for not being there.
      const missing = new Set<string>();
      if (result.code !== 0) {
        const complaints = mtoolsMessages(result.stderr);
        const trouble = complaints.filter((line) => {
          const name = /File "::\/?([^"]+)" not found/i.exec(line)?.[1];
          if (name !== undefined && names.includes(name)) {
            missing.add(name);
            return false;
          }
          return true;
        });
        if (trouble.length > 0 || missing.size === 0) {
          throw new DiskLayoutError(`reading the boot partition failed: ${trouble[0] ?? `mcopy exit ${result.code}`}`);
        }
      }
      const files = new Map<string, Buffer | null>();
      for (const name of names) {
        const bytes = await readFile(join(out, name)).catch(() => null);
        if (bytes === null && !missing.has(name)) throw new DiskLayoutError(`reading the boot partition failed: mcopy reported no error but did not copy ${name}`);
        files.set(name, bytes);
      }
      return files;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async readFile(name: string): Promise<Buffer | null> {
    return (await this.readFiles([name])).get(name) ?? null;
  }

  /** Writes (or overwrites) files in the root directory of the partition. */
  async writeFiles(files: Map<string, Buffer | string>): Promise<void> {
    if (files.size === 0) return;
    checkNames([...files.keys()]);
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-fat-'));
    try {
      const locals: string[] = [];
      for (const [name, content] of files) {
        await writeFile(join(dir, name), content);
        locals.push(join(dir, name));
      }
      const result = await runDiskTool('mcopy', ['-o', '-i', this.image, ...locals, '::/'], { env: MTOOLS_ENV });
      if (result.code !== 0) {
        throw new DiskLayoutError(`writing ${[...files.keys()].join(', ')} to the boot partition failed: ${mtoolsMessages(result.stderr)[0] ?? `mcopy exit ${result.code}`}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async writeFile(name: string, content: Buffer | string): Promise<void> {
    await this.writeFiles(new Map([[name, content]]));
  }
}

function checkNames(names: string[]): void {
  for (const name of names) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new DiskLayoutError(`unsupported boot file name ${JSON.stringify(name)}`);
  }
}

/**
 * mtools' messages without its harmless warnings. On a block device that does not answer the geometry ioctl (loop,
 * nbd, zram) mtools says "Could not get geometry of device (Inappropriate ioctl for device)" — without a line end,
 * so the next message follows on the same line — and carries on.
 */
export function mtoolsMessages(stderr: string): string[] {
  return stderr
    .replace(/Could not get geometry of device \([^)\n]*\)\n?/g, '\n')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}
