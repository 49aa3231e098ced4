// Builds a small Raspberry Pi OS-like disk image without root: MBR with a FAT32 boot partition (written in place
// with mkfs.vfat --offset and mtools) and an empty Linux partition.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BOOT_START_SECTOR = 8192;

export async function createBootImage(path: string, files: Record<string, Buffer | string>): Promise<number> {
  await truncate(path, 0).catch(() => undefined);
  await writeFile(path, '');
  await truncate(path, 96 * 1024 * 1024);
  const table = `label: dos\nstart=${BOOT_START_SECTOR}, size=131072, type=c\nstart=139264, type=83\n`;
  await new Promise<void>((resolve, reject) => {
    const child = execFile('sfdisk', ['-q', path], (error) => (error ? reject(error) : resolve()));
    child.stdin!.end(table);
  });
  await run('mkfs.vfat', ['-F', '32', '--offset', String(BOOT_START_SECTOR), path, '65536']);
  const target = `${path}@@${BOOT_START_SECTOR * 512}`;
  const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  const staging = await mkdtemp(join(tmpdir(), 'pitcrew-bootfiles-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(staging, dirname(name)), { recursive: true });
      await writeFile(join(staging, name), content);
    }
    for (const name of Object.keys(files).sort()) {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i += 1) {
        await run('mmd', ['-i', target, '-D', 's', `::/${parts.slice(0, i).join('/')}`], { env }).catch(() => undefined);
      }
      await run('mcopy', ['-i', target, '-o', join(staging, name), `::/${name}`], { env });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return BOOT_START_SECTOR * 512;
}
