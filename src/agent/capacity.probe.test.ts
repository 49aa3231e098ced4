import { describe, expect, it } from 'vitest';
import { markerOffsets, MARKER_BYTES, probeCapacity, type ProbeIo } from './capacity.probe.js';

const MiB = 1 << 20;

/**
 * An in-memory card claiming `claimed` bytes with `real` bytes of flash: addresses past the real size wrap around
 * onto lower ones, or are dropped (reads of them give zeros).
 */
function fakeCard(real: number, behaviour: 'wrap' | 'drop' | 'honest') {
  const flash = new Map<number, Buffer>();
  const writes: number[] = [];
  const io: ProbeIo = {
    write: async (data, position) => {
      writes.push(position);
      if (behaviour === 'drop' && position >= real) return;
      flash.set(behaviour === 'wrap' ? position % real : position, Buffer.from(data));
    },
    sync: async () => {},
    read: async (position, length) => {
      if (behaviour === 'drop' && position >= real) return Buffer.alloc(length);
      return flash.get(behaviour === 'wrap' ? position % real : position) ?? Buffer.alloc(length);
    },
  };
  return { io, flash, writes };
}

describe('the capacity check', () => {
  it('places a marker below each power-of-two MiB boundary and one at the end, all aligned', () => {
    const offsets = markerOffsets(31_914_983_424);
    expect(offsets[0]).toBe(MiB - MARKER_BYTES);
    expect(offsets).toContain(16_384 * MiB - MARKER_BYTES);
    expect(offsets).not.toContain(32_768 * MiB - MARKER_BYTES);
    expect(offsets.at(-1)).toBe(31_914_983_424 - MARKER_BYTES);
    expect(offsets.every((o) => o % MARKER_BYTES === 0)).toBe(true);
    expect(markerOffsets(1000)).toEqual([]);
    expect(markerOffsets(4096)).toEqual([0]);
  });

  it('passes an honest card and leaves nothing of itself on it', async () => {
    const card = fakeCard(32e9, 'honest');
    const finding = await probeCapacity(card.io, 31_914_983_424);
    expect(finding).toMatchObject({ check: 'ok', bad: [] });
    expect([...card.flash.values()].every((block) => block.every((b) => b === 0))).toBe(true);
  });

  it('finds a "1 TB" card that wraps at its real 8 GiB', async () => {
    const finding = await probeCapacity(fakeCard(8192 * MiB, 'wrap').io, 1e12);
    expect(finding.check).toBe('wrapped');
    // The last marker written onto that place (512 GiB's) is what came back.
    expect(finding.bad[0]).toEqual({ offset: 8192 * MiB - MARKER_BYTES, cameBackAs: 524_288 * MiB - MARKER_BYTES });
  });

  it('finds a card that drops writes past its real size', async () => {
    const finding = await probeCapacity(fakeCard(4096 * MiB, 'drop').io, 64e9);
    expect(finding.check).toBe('lost');
    expect(finding.bad.every((b) => b.cameBackAs === null && b.offset >= 4096 * MiB)).toBe(true);
  });

  it('zeroes its markers even when reading fails', async () => {
    const card = fakeCard(32e9, 'honest');
    card.io.read = async () => {
      throw new Error('EIO');
    };
    await expect(probeCapacity(card.io, 2e9)).rejects.toThrow('EIO');
    expect([...card.flash.values()].every((block) => block.every((b) => b === 0))).toBe(true);
  });
});
