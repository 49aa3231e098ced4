import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DiskTarget } from './disk.target.js';
import { HOLD_BACK_BYTES, ImageWriter } from './disk.writer.js';

const MiB = 1 << 20;

/** An in-memory disk that records every write. */
function memoryTarget(capacity: number, failAt?: number): DiskTarget & { bytes: Buffer; writes: Array<[number, number]>; syncs: number } {
  const bytes = Buffer.alloc(capacity, 0xee);
  const target = {
    kind: 'file' as const,
    path: null,
    capacity,
    bytes,
    writes: [] as Array<[number, number]>,
    syncs: 0,
    async write(data: Buffer, position: number) {
      if (failAt !== undefined && position <= failAt && failAt < position + data.length) throw new Error('EIO: i/o error');
      target.writes.push([position, data.length]);
      data.copy(bytes, position);
    },
    async sync() {
      target.syncs++;
    },
    async close() {},
  };
  return target;
}

/** Feeds the writer in uneven pieces, like a network would. */
async function feed(writer: ImageWriter, image: Buffer): Promise<void> {
  let at = 0;
  let piece = 1000;
  while (at < image.length) {
    const n = Math.min(piece, image.length - at);
    await writer.write(image.subarray(at, at + n));
    at += n;
    piece = (piece * 7) % 300_000 + 1;
  }
}

describe('ImageWriter', () => {
  it('writes the image exactly, in block-aligned writes, with the first MiB last', async () => {
    const image = randomBytes(10 * MiB + 4321);
    const target = memoryTarget(16 * MiB);
    const writer = new ImageWriter(target, image.length, 2 * MiB);
    await writer.prepare();
    await feed(writer, image);
    await writer.finish();

    expect(target.bytes.subarray(0, HOLD_BACK_BYTES).every((b) => b === 0)).toBe(true);
    expect(target.bytes.subarray(HOLD_BACK_BYTES, image.length).equals(image.subarray(HOLD_BACK_BYTES))).toBe(true);
    await writer.commitHeldBack();
    expect(target.bytes.subarray(0, image.length).equals(image)).toBe(true);

    const dataWrites = target.writes.slice(2, -1); // after the two zeroing writes, before the held-back block
    expect(dataWrites[0]).toEqual([HOLD_BACK_BYTES, MiB]); // up to the first 2 MiB boundary
    for (const [position] of dataWrites.slice(1)) expect(position % (2 * MiB)).toBe(0);
    expect(dataWrites.slice(0, -1).every(([, length], i) => i === 0 || length === 2 * MiB)).toBe(true);
    expect(target.writes.at(-1)).toEqual([0, HOLD_BACK_BYTES]);
  });

  it('zeroes the first and last MiB of the target before writing', async () => {
    const target = memoryTarget(8 * MiB);
    const writer = new ImageWriter(target, 3 * MiB);
    await writer.prepare();
    expect(target.bytes.subarray(0, MiB).every((b) => b === 0)).toBe(true);
    expect(target.bytes.subarray(7 * MiB).every((b) => b === 0)).toBe(true);
    expect(target.bytes.subarray(MiB, 7 * MiB).every((b) => b === 0xee)).toBe(true);
    expect(target.syncs).toBe(1);
  });

  it('handles an image smaller than the held-back MiB', async () => {
    const image = randomBytes(300_000);
    const target = memoryTarget(image.length);
    const writer = new ImageWriter(target, image.length);
    await writer.prepare();
    await feed(writer, image);
    await writer.finish();
    expect(writer.heldBack.equals(image)).toBe(true);
    await writer.commitHeldBack();
    expect(target.bytes.equals(image)).toBe(true);
  });

  it('refuses more bytes than the image has, and finishing early', async () => {
    const writer = new ImageWriter(memoryTarget(4 * MiB), 2 * MiB);
    await expect(writer.write(Buffer.alloc(2 * MiB + 1))).rejects.toThrow(/more than the image/);
    await writer.write(Buffer.alloc(MiB));
    await expect(writer.finish()).rejects.toThrow(/only 1048576 of 2097152/);
  });

  it('flushes to the device every so often, so progress follows the card and the last fsync is short', async () => {
    const image = randomBytes(20 * MiB);
    const target = memoryTarget(20 * MiB);
    const writer = new ImageWriter(target, image.length, 2 * MiB, 4 * MiB);
    await feed(writer, image);
    // 19 MiB after the held-back one, in 2 MiB writes: a sync after every second write.
    expect(target.syncs).toBe(4);
    await writer.finish();
    expect(target.syncs).toBe(5);
  });

  it('refuses an image larger than the target', () => {
    expect(() => new ImageWriter(memoryTarget(MiB), 2 * MiB)).toThrow(/does not fit/);
  });

  it('surfaces a failed disk write with its position', async () => {
    const image = randomBytes(12 * MiB);
    const writer = new ImageWriter(memoryTarget(12 * MiB, 5 * MiB), image.length);
    await expect(
      (async () => {
        await feed(writer, image);
        await writer.finish();
      })(),
    ).rejects.toThrow(/writing the target at byte 4194304 failed: EIO/);
  });
});
