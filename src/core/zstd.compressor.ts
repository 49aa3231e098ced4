// zstd compression through Debian's `zstd` command: Node 20's zlib has no zstd, and native npm bindings fetch
// prebuilt binaries at install time, which the venue server cannot. One process per chunk costs ~3 ms, small
// beside compressing a few MiB, and lets chunks compress on every core at once.
import { spawn } from 'node:child_process';

export const ZSTD_LEVEL = 3;

/** One independent zstd frame holding `data` (content size recorded in the frame header). */
export function compressZstd(data: Uint8Array, level = ZSTD_LEVEL): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', [`-${level}`, '-q', '-c', '--no-check', `--stream-size=${data.length}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (piece: Buffer) => out.push(piece));
    child.stderr.on('data', (piece: Buffer) => (err += piece.toString()).length > 4096 && (err = err.slice(-4096)));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error('the zstd command is missing: install the Debian package zstd', { cause: error }) : error));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`zstd failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').at(-1) ?? ''}`));
    });
    child.stdin.on('error', () => {}); // reported through the exit status
    child.stdin.end(data);
  });
}
