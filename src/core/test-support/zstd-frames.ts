// Decompresses a zstd frame with Debian's zstd program: an independent check of what the server's libzstd made.
import { spawnSync } from 'node:child_process';

export function unzstd(frame: Buffer): Buffer {
  const result = spawnSync('zstd', ['-d', '-q', '-c'], { input: frame, maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`zstd -d failed: ${result.stderr.toString().trim()}`);
  return result.stdout;
}
