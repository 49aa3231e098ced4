import { describe, expect, it } from 'vitest';
import { extentBytes, MERGE_GAP_BYTES, normalizeRanges, unionExtents } from './byte-ranges.normalizer.js';

const KiB = 1024;

describe('normalizeRanges', () => {
  it('rounds extents outward to 4 KiB, never inward', () => {
    expect(normalizeRanges([{ start: 5000, end: 5001 }], 1 << 30)).toEqual([{ offset: 4096, length: 4096 }]);
    expect(normalizeRanges([{ start: 4096, end: 8192 }], 1 << 30)).toEqual([{ offset: 4096, length: 4096 }]);
    expect(normalizeRanges([{ start: 4095, end: 8193 }], 1 << 30)).toEqual([{ offset: 0, length: 12288 }]);
  });

  it('sorts, unions overlapping and adjacent extents, and closes gaps shorter than 256 KiB', () => {
    const ranges = normalizeRanges(
      [
        { start: 1024 * KiB, end: 1100 * KiB },
        { start: 0, end: 4 * KiB },
        { start: 2 * KiB, end: 8 * KiB },
        { start: 8 * KiB, end: 12 * KiB },
        { start: 12 * KiB + MERGE_GAP_BYTES - 4 * KiB, end: 300 * KiB }, // gap just short of 256 KiB: merged
        { start: 300 * KiB + MERGE_GAP_BYTES, end: 600 * KiB }, // gap of exactly 256 KiB: kept
      ],
      1 << 30,
    );
    expect(ranges).toEqual([
      { offset: 0, length: 300 * KiB },
      { offset: 300 * KiB + MERGE_GAP_BYTES, length: 600 * KiB - 300 * KiB - MERGE_GAP_BYTES },
      { offset: 1024 * KiB, length: 76 * KiB },
    ]);
  });

  it('clamps to the image, whose last range may end off the grid', () => {
    expect(normalizeRanges([{ start: 10_000, end: 20_000 }], 12_345)).toEqual([{ offset: 8192, length: 12_345 - 8192 }]);
    expect(normalizeRanges([{ start: 20_000, end: 30_000 }], 12_345)).toEqual([]);
    expect(normalizeRanges([], 12_345)).toEqual([]);
  });

  it('counts the bytes of a union', () => {
    expect(unionExtents([{ start: 10, end: 20 }, { start: 15, end: 30 }, { start: 40, end: 40 }])).toEqual([{ start: 10, end: 30 }]);
    expect(extentBytes([{ start: 10, end: 20 }, { start: 15, end: 30 }, { start: 50, end: 60 }])).toBe(30);
  });
});
