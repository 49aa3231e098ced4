// Compressed uploads: people have Raspberry Pi images as .img.xz, .img.gz or .img.zst as often as raw .img. The
// format is recognised from the first bytes (never from the name alone), and the bytes are decompressed as they
// stream in, so the image store only ever sees the raw disk and its identity stays the raw SHA-256 and size.
//
// Who decompresses (Node 20 has no xz or zstd in zlib, and native addons are out), measured on a two-core machine
// with a 1 GiB image of system files and free space: xz through the `xz` command with two threads, as files made
// with `xz -T0` (Raspberry Pi OS's among them) are split in blocks that decode in parallel — 16.5 s against 22.7 s
// for one thread (single-block files decode on one whatever -T says); zstd through the `zstd` command (1.0 s, the
// same as `zstd -dc` alone); gzip through node:zlib on libuv's thread pool (1.5 s, where `gzip -dc` took 9.3 s).
// The tools' memory is bounded by their block and window sizes (xz -T2: about 170 MiB), never by the image's size.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { Duplex, Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ImageSourceFormat } from '../contracts/image-delivery.js';
import { AppError } from '../contracts/errors.js';

const MAGIC: Array<[Exclude<ImageSourceFormat, 'raw'>, Buffer]> = [
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['gzip', Buffer.from([0x1f, 0x8b])],
];
/** Bytes needed to tell every format apart. */
export const MAGIC_BYTES = 6;

/** What people call each format's files; `.img` for a raw disk. */
export const SOURCE_SUFFIX: Record<ImageSourceFormat, string> = { raw: '.img', gzip: '.img.gz', xz: '.img.xz', zstd: '.img.zst' };

/** The format of a file from its first bytes (at least MAGIC_BYTES of them unless the file is shorter). */
export function detectImageFormat(head: Uint8Array): ImageSourceFormat {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  for (const [format, magic] of MAGIC) {
    if (bytes.length >= magic.length && bytes.subarray(0, magic.length).equals(magic)) return format;
  }
  return 'raw';
}

const COMPRESSED_SUFFIX = /\.(xz|gz|gzip|zst|zstd)$/i;

/** The name of the raw disk an upload becomes: `raspios.img.xz` → `raspios.img`, `raspios.xz` → `raspios.img`. */
export function rawImageName(name: string): string {
  if (!COMPRESSED_SUFFIX.test(name)) return name;
  const stripped = name.replace(COMPRESSED_SUFFIX, '');
  return /\.img$/i.test(stripped) ? stripped : `${stripped}.img`;
}

/** The command each tool-backed format runs: decompress stdin to stdout, messages on stderr. */
const COMMANDS = {
  // Two threads: multi-block files (xz -T0, and Raspberry Pi OS's own) decode in parallel. Single-block files
  // decode on one thread whatever -T says.
  xz: ['xz', ['--decompress', '--stdout', '--threads=2']],
  zstd: ['zstd', ['--decompress', '--stdout', '--no-progress']],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

const PLAIN_NAME: Record<Exclude<ImageSourceFormat, 'raw'>, string> = { gzip: '.gz', xz: '.xz', zstd: '.zst' };

/** What a person reads when the archive is broken: the tool's own one-line reason, in plain words around it. */
export function invalidArchive(format: Exclude<ImageSourceFormat, 'raw'>, reason: string): AppError {
  const clean = reason.trim() || 'it ended unexpectedly';
  return new AppError('INVALID_ARCHIVE', `The file is not a valid ${PLAIN_NAME[format]} archive: ${clean.replace(/\.$/, '')}. Check the download (it may be cut short) or upload the raw .img.`);
}

/** The last line a tool printed on stderr, without the "xz: (stdin): " or "/*stdin*\ :" prefixes. */
function reasonOf(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  return last.replace(/^xz: \(stdin\): /, '').replace(/^\/\*stdin\*\\\s*:\s*/, '').replace(/^zstd: /, '').slice(0, 300);
}

/** How much of a tool's stderr is kept (its reason is one line; a flood is cut). */
const STDERR_LIMIT = 8 << 10;

/** A running decompressor: raw bytes out of `output` for compressed bytes into `input`. */
interface Backend {
  input: Writable;
  output: Readable;
  /** Resolves once every raw byte is out and the decompressor succeeded; rejects with the reason otherwise. */
  done: Promise<void>;
  /** Stops it at once; resolves when it is gone (a process killed and reaped). */
  stop(): Promise<void>;
  /** The decompressing process, if it is one. */
  pid?: number | undefined;
}

type Compressed = Exclude<ImageSourceFormat, 'raw'>;

function toolBackend(format: 'xz' | 'zstd'): Backend {
  const [command, args] = COMMANDS[format];
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
  });
  // EPIPE when the tool quits early: its exit status says why.
  child.stdin.on('error', () => {});
  child.stdout.on('error', () => {});
  let spawnError: Error | undefined;
  // 'exit': the process is gone and reaped; 'close': that, and its output read to the end.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    void exited.then(() => spawnError && resolve({ code: null, signal: null }));
  });
  const done = closed.then(({ code, signal }) => {
    if (spawnError) {
      throw (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
        ? new AppError('UNAVAILABLE', `This server cannot read ${PLAIN_NAME[format]} files: the ${command} command is not installed (apt-get install ${format === 'xz' ? 'xz-utils' : 'zstd'}). Upload the raw .img instead.`)
        : spawnError;
    }
    if (code !== 0) throw invalidArchive(format, reasonOf(stderr) || (signal ? `${command} was stopped (${signal})` : `${command} exited with status ${code}`));
  });
  return {
    input: child.stdin,
    output: child.stdout,
    done,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // Output nobody will read any more would otherwise hold 'close' back.
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
      await exited;
    },
  };
}

function gzipBackend(): Backend {
  // 1 MiB pieces: the hashing writer and the disk work best with large chunks.
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const done = new Promise<void>((resolve, reject) => {
    gunzip.once('end', resolve);
    gunzip.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'Z_BUF_ERROR' ? 'the file ends before the compressed data does' : error.message;
      reject(invalidArchive('gzip', reason));
    });
  });
  return {
    input: gunzip,
    output: gunzip,
    done,
    async stop() {
      if (!gunzip.closed) {
        const closed = once(gunzip, 'close').catch(() => {});
        gunzip.destroy();
        await closed;
      }
    },
  };
}

/**
 * A Duplex that takes a compressed upload's bytes as they arrive and gives out the raw disk. Destroyed (by an error
 * downstream, an abort, a client gone), it kills its decompressor; `released` resolves once that is gone. A broken
 * archive destroys it with an AppError (INVALID_ARCHIVE, 422).
 */
export class ImageDecompressor extends Duplex {
  /** Bytes taken in (compressed, as uploaded). */
  bytesIn = 0;
  /** Resolves once the decompressor (process or zlib stream) has stopped. */
  readonly released: Promise<void>;
  private readonly backend: Backend;

  /** The decompressing process (xz, zstd); undefined for gzip, which zlib decompresses in this process. */
  get pid(): number | undefined {
    return this.backend.pid;
  }

  constructor(readonly format: Compressed) {
    super({ readableHighWaterMark: 4 << 20, writableHighWaterMark: 1 << 20 });
    const backend = format === 'gzip' ? gzipBackend() : toolBackend(format);
    this.backend = backend;
    let release!: () => void;
    this.released = new Promise((resolve) => (release = resolve));
    this.markReleased = release;
    backend.output.on('data', (raw: Buffer) => {
      if (!this.push(raw)) backend.output.pause();
    });
    // The raw bytes are complete only when the decompressor says it succeeded, not merely when its output ends:
    // a truncated archive ends its output early, then fails.
    backend.done.then(
      () => {
        if (!this.destroyed) this.push(null);
      },
      (error: unknown) => {
        if (!this.destroyed) this.destroy(error as Error);
      },
    );
  }

  private readonly markReleased: () => void;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytesIn += chunk.length;
    const input = this.backend.input;
    if (input.writableEnded || input.destroyed || input.write(chunk)) {
      callback();
      return;
    }
    const onDrain = () => {
      input.off('close', onDrain);
      input.off('drain', onDrain);
      callback();
    };
    input.once('drain', onDrain);
    // A tool that quit stops draining; its exit status then decides (and destroys this stream if it failed).
    input.once('close', onDrain);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const input = this.backend.input;
    if (!input.writableEnded && !input.destroyed) input.end();
    callback();
  }

  override _read(): void {
    this.backend.output.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.backend.stop().then(() => {
      this.markReleased();
      callback(error);
    });
  }
}

/**
 * Reads the first `bytes` bytes of `source` (fewer if it is shorter) and gives back a stream of the whole, those
 * bytes included, with the format they show. Rejects if the source fails or `signal` aborts first.
 */
export async function sniffImageFormat(source: Readable, signal?: AbortSignal): Promise<{ format: ImageSourceFormat; stream: Readable }> {
  const { head, ended } = await peek(source, MAGIC_BYTES, signal);
  const format = detectImageFormat(head);
  return { format, stream: ended ? Readable.from(head.length > 0 ? [head] : [], { objectMode: false }) : source };
}

/**
 * The first `bytes` bytes of `source` (or all of a shorter one, then `ended`), put back at once: a source whose
 * last bytes were just read would otherwise end, and an ended stream takes nothing back.
 */
function peek(source: Readable, bytes: number, signal?: AbortSignal): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let count = 0;
    const cleanup = () => {
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null; count < bytes && (chunk = source.read() as Buffer | null) !== null; ) {
        parts.push(chunk);
        count += chunk.length;
      }
      if (count >= bytes) {
        cleanup();
        const head = Buffer.concat(parts);
        source.unshift(head);
        resolve({ head, ended: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ head: Buffer.concat(parts), ended: true });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => onError(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    const onAbort = () => {
      cleanup();
      reject(signal!.reason ?? Object.assign(new Error('The operation was aborted'), { code: 'ABORT_ERR' }));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    if (source.readableEnded) {
      resolve({ head: Buffer.alloc(0), ended: true });
      return;
    }
    source.on('readable', onReadable);
    source.on('end', onEnd);
    source.on('error', onError);
    source.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
