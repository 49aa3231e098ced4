// Loop devices over files: real block devices for the installer's tests (no geometry ioctl, a kernel view of the
// partitions, a chosen logical sector size). Root only: without it (a developer's laptop) tests skip, CI runs as root.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const canUseLoopDevices = (): boolean => process.getuid?.() === 0 && existsSync('/dev/loop-control');

/** Attaches `file` to a free loop device (`losetup` flags such as `-P` or `--sector-size 4096`) and returns its path. */
export async function attachLoopDevice(file: string, flags: string[] = []): Promise<string> {
  const { stdout } = await run('losetup', ['--find', '--show', ...flags, file]);
  return stdout.trim();
}

export async function detachLoopDevice(loop: string): Promise<void> {
  await run('losetup', ['-d', loop]);
}
