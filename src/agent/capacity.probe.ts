// Does the card hold what it claims? A counterfeit card reports the size on its label while its flash is a
// fraction of it: its controller maps addresses past the real size back onto lower ones (the card "wraps
// around"), or drops those writes. Before the image is written, a 4 KiB marker naming its own offset is written
// just below every power-of-two MiB boundary and at the very end, then all are read back around the page cache: a
// marker that comes back as another one means the card wrapped; one that comes back as anything else was lost.
// Afterwards the markers are zeroed, so the card carries nothing of the check.
//
// What it catches: cards that wrap at a power-of-two size (the usual fakes: their flash chips come in such sizes)
// and cards that drop writes past their real size. What it does not: a card wrapping at an odd size whose aliases
// miss every marker; a full surface test (f3, h2testw) writes every byte and takes hours.
import { randomBytes } from 'node:crypto';
import type { CapacityCheck } from '../contracts/card-health.js';

export const MARKER_BYTES = 4096;
const MAGIC = Buffer.from('PITCREW-CAPACITY');

export interface ProbeIo {
  write(data: Buffer, position: number): Promise<void>;
  sync(): Promise<void>;
  /** The bytes as the card holds them, not the kernel's cached copy. */
  read(position: number, length: number): Promise<Buffer>;
}

export interface CapacityFinding {
  check: CapacityCheck;
  /** Offsets whose marker came back wrong, and what each came back as (another marker's offset, or null). */
  bad: Array<{ offset: number; cameBackAs: number | null }>;
  markers: number;
}

/** Where markers go on a card of `capacity` bytes: below each power-of-two MiB boundary inside it, and at its end. */
export function markerOffsets(capacity: number): number[] {
  const end = Math.floor(capacity / MARKER_BYTES) * MARKER_BYTES - MARKER_BYTES;
  if (end < 0) return [];
  const offsets = new Set<number>();
  for (let boundary = 1 << 20; boundary <= capacity; boundary *= 2) offsets.add(boundary - MARKER_BYTES);
  offsets.add(end);
  return [...offsets].sort((a, b) => a - b);
}

function markerFor(nonce: Buffer, offset: number): Buffer {
  const marker = Buffer.alloc(MARKER_BYTES);
  MAGIC.copy(marker, 0);
  nonce.copy(marker, 16);
  marker.writeBigUInt64BE(BigInt(offset), 32);
  // The rest from the nonce and the offset, so a controller that dedups or compresses has nothing to gain.
  for (let i = 40; i < MARKER_BYTES; i++) marker[i] = (nonce[i % nonce.length]! ^ (offset / MARKER_BYTES + i)) & 0xff;
  return marker;
}

/** The offset a marker of this run names, or null for anything else (zeros, garbage, an older run's). */
function offsetNamedBy(data: Buffer, nonce: Buffer): number | null {
  if (data.length < 40 || !data.subarray(0, 16).equals(MAGIC) || !data.subarray(16, 32).equals(nonce)) return null;
  const offset = Number(data.readBigUInt64BE(32));
  return data.equals(markerFor(nonce, offset)) ? offset : null;
}

export async function probeCapacity(io: ProbeIo, capacity: number): Promise<CapacityFinding> {
  const offsets = markerOffsets(capacity);
  const nonce = randomBytes(16);
  try {
    // Lowest first: a higher marker that wraps lands on a lower one after it was written, and replaces it.
    for (const offset of offsets) await io.write(markerFor(nonce, offset), offset);
    await io.sync();
    const bad: CapacityFinding['bad'] = [];
    for (const offset of offsets) {
      const named = offsetNamedBy(await io.read(offset, MARKER_BYTES), nonce);
      if (named !== offset) bad.push({ offset, cameBackAs: named });
    }
    const check: CapacityCheck = bad.length === 0 ? 'ok' : bad.some((b) => b.cameBackAs !== null) ? 'wrapped' : 'lost';
    return { check, bad, markers: offsets.length };
  } finally {
    const zeros = Buffer.alloc(MARKER_BYTES);
    for (const offset of offsets) await io.write(zeros, offset).catch(() => {});
    await io.sync().catch(() => {});
  }
}
