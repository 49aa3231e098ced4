// The FAT boot partition, read and written in place with mtools (`-i device@@offset`): nothing is mounted, so
// the installer needs no loop devices and leaves no mount behind if it dies.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstallerError } from './installer.errors.js';
import { runTool } from './tool.runner.js';

// Images are not floppies: skip mtools' geometry sanity checks.
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

export class FatVolume {
  private readonly image: string;

  constructor(devicePath: string, offsetBytes: number) {
    this.image = `${devicePath}@@${offsetBytes}`;
  }

  /** The file's bytes, or null when it does not exist. */
  async readFile(name: string): Promise<Buffer | null> {
    const result = await runTool('mtype', ['-i', this.image, `::/${name}`], { env: MTOOLS_ENV });
    if (result.code === 0) return result.stdout;
    if (/not found/i.test(result.stderr)) return null;
    throw new InstallerError('CUSTOMIZE', `reading ${name} from the boot partition failed: ${firstLine(result.stderr)}`);
  }

  async writeFile(name: string, content: Buffer | string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'pitcrew-fat-'));
    try {
      const local = join(dir, 'file');
      await writeFile(local, content);
      const result = await runTool('mcopy', ['-o', '-i', this.image, local, `::/${name}`], { env: MTOOLS_ENV });
      if (result.code !== 0) throw new InstallerError('CUSTOMIZE', `writing ${name} to the boot partition failed: ${firstLine(result.stderr)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

const firstLine = (text: string): string => text.trim().split('\n')[0] || 'no error output';
