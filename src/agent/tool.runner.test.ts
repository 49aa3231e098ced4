import { describe, expect, it } from 'vitest';
import { DiskLayoutError } from '../disk-layout/disk-tool.js';
import { asCustomizeError, InstallerError } from './installer.errors.js';
import { runTool } from './tool.runner.js';

describe('the installer running disk tools', () => {
  it('fails the installation as a customisation when a tool is missing', async () => {
    const error = await runTool('mcopy', [], { env: { PATH: '/nonexistent' } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InstallerError);
    expect(error).toMatchObject({ code: 'CUSTOMIZE', transient: false, message: 'mcopy is not installed on this machine (install the mtools package)' });
  });

  it('turns only disk-layout errors into customisation failures, leaving every other error as it is', () => {
    const other = new Error('EIO');
    expect(asCustomizeError(other)).toBe(other);
    expect(asCustomizeError(new DiskLayoutError('root:/etc is not a directory'))).toMatchObject({ code: 'CUSTOMIZE', message: 'root:/etc is not a directory' });
  });
});
