// Decompresses one zstd frame (an image chunk of image delivery v2) into exactly the bytes the manifest announces.
// Node 22.15+ has zstd in zlib: the installer's runtime (node-runtime.fetcher.ts) uses it, on the libuv thread
// pool, so several chunks decompress at once. Older Node (the Node 20 servers that run the simulator and the
// tests) spawns the `zstd` program instead. docs/image-delivery.md has the measurements behind the choice.
import { spawn } from 'node:child_process';
import zlib from 'node:zlib';
import { InstallerError } from './installer.errors.js';

export type DecompressMethod = 'zlib' | 'zstd-cli';

export interface ChunkDecompressor {
  readonly method: DecompressMethod;
  /** The frame's content; rejects if it is not a valid frame of exactly `rawLength` bytes. */
  decompress(frame: Buffer, rawLength: number): Promise<Buffer>;
}

type ZstdDecompress = (buffer: Buffer, options: { chunkSize?: number; maxOutputLength?: number }, callback: (error: Error | null, result: Buffer) => void) => void;

/** zlib's zstd, where this Node has it (22.15+, 23.8+). */
const zlibZstd = (): ZstdDecompress | null => {
  const candidate = (zlib as unknown as { zstdDecompress?: unknown }).zstdDecompress;
  return typeof candidate === 'function' ? (candidate as ZstdDecompress) : null;
};

export const zlibHasZstd = (): boolean => zlibZstd() !== null;

/** A decompressor for this runtime: zlib when it has zstd, else the `zstd` program; null when neither exists. */
export async function createChunkDecompressor(prefer?: DecompressMethod, zstdCommand = 'zstd'): Promise<ChunkDecompressor | null> {
  const viaZlib = zlibZstd();
  if (viaZlib && prefer !== 'zstd-cli') return zlibDecompressor(viaZlib);
  if (await commandWorks(zstdCommand)) return cliDecompressor(zstdCommand);
  return null;
}

function zlibDecompressor(decompress: ZstdDecompress): ChunkDecompressor {
  return {
    method: 'zlib',
    decompress: (frame, rawLength) =>
      new Promise((resolve, reject) => {
        // One output buffer the size of the chunk: zlib's default 16 KiB steps cost two thirds of the speed. A byte
        // more than the chunk, because a buffer filled exactly makes zlib allocate another one for its next step,
        // and 4 MiB of memory per chunk thrown away at once costs a full garbage collection every few chunks.
        const options = { chunkSize: Math.max(64 << 10, rawLength + 1), maxOutputLength: rawLength };
        decompress(frame, options, (error, raw) => {
          if (error) return reject(frameError(error.message));
          if (raw.length !== rawLength) return reject(frameError(`${raw.length} bytes instead of ${rawLength}`));
          resolve(raw);
        });
      }),
  };
}

function cliDecompressor(command: string): ChunkDecompressor {
  return {
    method: 'zstd-cli',
    decompress: (frame, rawLength) =>
      new Promise((resolve, reject) => {
        const child = spawn(command, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
        const raw = Buffer.allocUnsafe(rawLength);
        let filled = 0;
        let tooLong = false;
        let stderr = '';
        child.stdout.on('data', (piece: Buffer) => {
          if (filled + piece.length > rawLength) {
            tooLong = true;
            child.kill('SIGKILL');
            return;
          }
          piece.copy(raw, filled);
          filled += piece.length;
        });
        child.stderr.setEncoding('utf8').on('data', (text: string) => void (stderr = (stderr + text).slice(-500)));
        // A corrupt frame makes zstd exit before it has read all of its input.
        child.stdin.on('error', () => {});
        child.once('error', (error) => reject(new InstallerError('IO', `cannot run ${command}: ${error.message}`, { cause: error })));
        child.once('close', (code) => {
          if (tooLong) return reject(frameError(`more than ${rawLength} bytes`));
          if (code !== 0) return reject(frameError(stderr.trim() || `zstd exited with ${code}`));
          if (filled !== rawLength) return reject(frameError(`${filled} bytes instead of ${rawLength}`));
          resolve(raw);
        });
        child.stdin.end(frame);
      }),
  };
}

/** A frame that does not decompress is treated like a wrong hash: the chunk is fetched again. */
export class CorruptFrameError extends Error {}

const frameError = (detail: string) => new CorruptFrameError(`the chunk does not decompress: ${detail}`);

function commandWorks(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  });
}
