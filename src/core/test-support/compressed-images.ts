// A real Raspberry Pi OS-shaped disk image and the same disk as the archives people download (made by the real
// xz, gzip and zstd commands), plus broken copies of each: cut short, and corrupted in the middle.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDiskImage, type BuiltImage } from '../../disk-layout/test-support/disk-image.builder.js';

const run = promisify(execFile);

export type Compressed = 'xz' | 'gzip' | 'zstd';
export const COMPRESSED: Compressed[] = ['xz', 'gzip', 'zstd'];
export const SUFFIX: Record<Compressed, string> = { xz: '.xz', gzip: '.gz', zstd: '.zst' };

export interface CompressedImages {
  raw: BuiltImage;
  /** The disk compressed, as `raspios.img.xz` and so on. */
  archive: Record<Compressed, string>;
  /** The first half of each archive only. */
  truncated: Record<Compressed, string>;
  /** Each archive with 4 KiB in its middle overwritten. */
  corrupt: Record<Compressed, string>;
}

const COMMAND: Record<Compressed, [string, string[]]> = {
  // Multi-threaded, so several blocks: as Raspberry Pi OS ships, and what xz decodes in parallel.
  xz: ['xz', ['-T0', '--block-size=4MiB', '-3', '-k', '-f']],
  gzip: ['gzip', ['-k', '-f']],
  zstd: ['zstd', ['-q', '-k', '-f']],
};

export async function buildCompressedImages(dir: string): Promise<CompressedImages> {
  const raw = await buildDiskImage(dir, { flavour: 'rpi-preseed', fileName: 'raspios.img' });
  const archive = {} as Record<Compressed, string>;
  const truncated = {} as Record<Compressed, string>;
  const corrupt = {} as Record<Compressed, string>;
  for (const format of COMPRESSED) {
    const [command, args] = COMMAND[format];
    await run(command, [...args, raw.path]);
    archive[format] = `${raw.path}${SUFFIX[format]}`;
    const bytes = await readFile(archive[format]);
    truncated[format] = join(dir, `truncated.img${SUFFIX[format]}`);
    await writeFile(truncated[format], bytes.subarray(0, bytes.length >> 1));
    const broken = Buffer.from(bytes);
    const middle = broken.length >> 1;
    for (let i = 0; i < 4096 && middle + i < broken.length - 64; i++) broken[middle + i] = (i * 131 + 7) & 0xff;
    corrupt[format] = join(dir, `corrupt.img${SUFFIX[format]}`);
    await writeFile(corrupt[format], broken);
  }
  return { raw, archive, truncated, corrupt };
}

/** Processes whose parent is this one and whose command is `name` (a decompressor left running, or a zombie). */
export async function childProcessesNamed(name: string, parent = process.pid): Promise<Array<{ pid: number; state: string }>> {
  const { readdir } = await import('node:fs/promises');
  const found: Array<{ pid: number; state: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
    if (match && match[1] === name && Number(match[3]) === parent) found.push({ pid: Number(entry), state: match[2]! });
  }
  return found;
}
