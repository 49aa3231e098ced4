import { describe, expect, it } from 'vitest';
import { DiskLayoutError, runDiskTool } from './disk-tool.js';

describe('runDiskTool', () => {
  it('returns what the tool printed and its exit code', async () => {
    const result = await runDiskTool('sh', ['-c', 'printf out; printf err >&2; exit 3']);
    expect(result).toEqual({ code: 3, stdout: Buffer.from('out'), stderr: 'err' });
  });

  it('says plainly which package a missing tool comes from, as its own error type', async () => {
    const run = runDiskTool('debugfs', [], { env: { PATH: '/nonexistent' } });
    await expect(run).rejects.toBeInstanceOf(DiskLayoutError);
    await expect(run).rejects.toThrow('debugfs is not installed on this machine (install the e2fsprogs package)');
  });
});
