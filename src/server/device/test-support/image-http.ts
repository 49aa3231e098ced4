// HTTP helpers for the image tests and benchmarks: raw requests (exact paths and headers, no URL normalising),
// streamed multipart uploads of generated content, and process memory readings.
import { createHash, randomFillSync } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeOnePartitionMbr } from '../../../disk-layout/test-support/tiny-disk-image.js';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path sent exactly as given. */
export function rawRequest(baseUrl: string, method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${baseUrl}/`, { method, path, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

export const jsonOf = <T = Record<string, unknown>>(answer: RawAnswer): T => JSON.parse(answer.body.toString('utf8')) as T;

/**
 * A disk image of `mib` MiB of reproducible, incompressible-enough bytes produced on the fly (1 MiB at a time, never
 * held whole), hashed as they are produced. `tailBytes` extra bytes (rounded up to whole 512-byte sectors, as a disk
 * is) make the size not a multiple of the chunk size. Its first sector is an MBR with one partition from sector 1 to
 * the end, so the server takes it for the disk image it is; `mib` 0 without a tail is an empty file.
 */
export function generatedFile(mib: number, tailBytes = 0, seed = 1): { size: number; chunks: () => Generator<Buffer>; sha256: () => string } {
  const block = Buffer.alloc(1 << 20);
  randomFillSync(block);
  block.writeUInt32LE(seed, 8);
  const tail = Math.ceil(tailBytes / 512) * 512;
  const size = mib * (1 << 20) + tail;
  // Every MiB carries the table; only the first sector's counts.
  if (size > 0) writeOnePartitionMbr(block, size / 512 - 1);
  const hash = createHash('sha256');
  let digest: string | undefined;
  return {
    size,
    *chunks() {
      for (let i = 0; i < mib; i++) {
        block.writeUInt32LE(i, 0); // every MiB differs, so a stuck or repeated chunk changes the hash
        hash.update(block);
        yield block;
      }
      if (tail > 0) {
        const last = block.subarray(0, tail);
        hash.update(last);
        yield last;
      }
      digest = hash.digest('hex');
    },
    sha256() {
      if (!digest) throw new Error('the generated file has not been fully produced yet');
      return digest;
    },
  };
}

export type FormField = { name: string; value: string };
export type FormFile = { name: string; filename: string; size: number; chunks: Iterable<Buffer> | AsyncIterable<Buffer> };

export interface UploadOptions {
  /** Send without Content-Length (chunked). */
  chunked?: boolean;
  /** Destroy the connection once this many bytes of the body are written (an interrupted upload). */
  abortAfterBytes?: number;
  /** Extra headers (e.g. cookies). */
  headers?: OutgoingHttpHeaders;
  path?: string;
}

export interface UploadAnswer {
  /** 0 when the upload was cut before any answer. */
  status: number;
  body: Record<string, unknown> | null;
  /** Body bytes written before the answer came (or before the cut). */
  bytesSent: number;
  totalBytes: number;
}

/**
 * POSTs a multipart form whose file content is streamed from `chunks` with backpressure. Stops sending as soon as
 * an answer arrives (as curl does), so an early refusal shows up as bytesSent < totalBytes.
 */
export function uploadForm(baseUrl: string, parts: Array<FormField | FormFile>, options: UploadOptions = {}): Promise<UploadAnswer> {
  const boundary = `----pitcrew-test-${Date.now().toString(16)}`;
  const encoded = parts.map((part) => {
    const head = 'filename' in part
      ? `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`
      : `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}`;
    return { head: Buffer.from(head, 'utf8'), part };
  });
  const closing = Buffer.from(`--${boundary}--\r\n`);
  const totalBytes = encoded.reduce((n, { head, part }) => n + head.length + ('filename' in part ? part.size : 0) + 2, 0) + closing.length;

  return new Promise((resolve, reject) => {
    let bytesSent = 0;
    let answered = false;
    let settled = false;
    const finish = (answer: UploadAnswer) => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    // keep-alive, as browsers and curl send: without it (agent: false means "Connection: close") the server closes the
    // socket the moment it has answered an early refusal, and the RST that meets our next write can wipe the
    // unread answer out of the client's receive buffer.
    const headers: OutgoingHttpHeaders = { 'content-type': `multipart/form-data; boundary=${boundary}`, connection: 'keep-alive', ...options.headers };
    if (!options.chunked) headers['content-length'] = totalBytes;
    const request = httpRequest(`${baseUrl}${options.path ?? '/api/images/upload'}`, { method: 'POST', headers, agent: false }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        finish({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : null, bytesSent, totalBytes });
        request.destroy();
      });
    });
    request.on('error', (error) => {
      if (answered) return; // the answer decides; a reset after it is the server dropping the rest
      if (options.abortAfterBytes !== undefined && bytesSent >= options.abortAfterBytes) finish({ status: 0, body: null, bytesSent, totalBytes });
      else if (!settled) reject(error);
    });

    const write = async (chunk: Buffer): Promise<boolean> => {
      if (answered || request.destroyed) return false;
      if (options.abortAfterBytes !== undefined && bytesSent + chunk.length > options.abortAfterBytes) {
        const room = options.abortAfterBytes - bytesSent;
        if (room > 0) await writeOne(chunk.subarray(0, room));
        bytesSent = Math.max(bytesSent, options.abortAfterBytes);
        // Let the bytes leave, then cut the connection as a pulled cable or killed browser would.
        request.destroy();
        finish({ status: 0, body: null, bytesSent, totalBytes });
        return false;
      }
      await writeOne(chunk);
      bytesSent += chunk.length;
      return true;
    };
    // Waits until the socket took the chunk: generated chunks reuse one buffer, which must not change while queued.
    const writeOne = (chunk: Buffer) => new Promise<void>((done) => void request.write(chunk, () => done()));

    void (async () => {
      for (const { head, part } of encoded) {
        if (!(await write(head))) return;
        if ('filename' in part) {
          for await (const chunk of part.chunks) if (!(await write(chunk))) return;
        }
        if (!(await write(Buffer.from('\r\n')))) return;
      }
      if (!(await write(closing))) return;
      request.end();
    })().catch((error: unknown) => {
      if (!answered) reject(error);
    });
  });
}

/** Resident memory of a process in bytes, from /proc: `current` (VmRSS) and `peak` (VmHWM). */
export function memoryOf(pid: number): { current: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { current: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Minor page faults a process has taken so far (memory it had to map in, /proc/PID/stat field 10). */
export function minorFaultsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

/** Resets a process's peak RSS to its current RSS (Linux clear_refs "5"); false when not permitted. */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
