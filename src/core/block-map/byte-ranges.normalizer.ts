// Turns the raw extents the readers report (any order, overlapping, unaligned) into the block map's ranges.
import { MAP_BLOCK_BYTES, type ByteRange } from '../../contracts/image-delivery.js';

/** Free gaps shorter than this between two mapped ranges are mapped too: a few free blocks cost less than another chunk. */
export const MERGE_GAP_BYTES = 256 * 1024;

/** A half-open extent [start, end) in bytes. */
export interface Extent {
  start: number;
  end: number;
}

/** Sorts, unions and merges touching or overlapping extents (no rounding). */
export function unionExtents(extents: Iterable<Extent>): Extent[] {
  const sorted = [...extents].filter((e) => e.end > e.start).sort((a, b) => a.start - b.start);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out.at(-1);
    if (last && e.start <= last.end) last.end = Math.max(last.end, e.end);
    else out.push({ start: e.start, end: e.end });
  }
  return out;
}

/** Total bytes of a union of extents. */
export const extentBytes = (extents: Iterable<Extent>): number => unionExtents(extents).reduce((sum, e) => sum + e.end - e.start, 0);

/**
 * The map's ranges: extents rounded outward to MAP_BLOCK_BYTES and clamped to the image, gaps shorter than
 * `mergeGap` closed, returned sorted, disjoint and non-adjacent. Only the last range may end off the grid, at imageSize.
 */
export function normalizeRanges(extents: Iterable<Extent>, imageSize: number, mergeGap = MERGE_GAP_BYTES): ByteRange[] {
  const rounded: Extent[] = [];
  for (const e of extents) {
    const start = Math.max(0, Math.floor(e.start / MAP_BLOCK_BYTES) * MAP_BLOCK_BYTES);
    const end = Math.min(imageSize, Math.ceil(e.end / MAP_BLOCK_BYTES) * MAP_BLOCK_BYTES);
    if (end > start) rounded.push({ start, end });
  }
  const merged: Extent[] = [];
  for (const e of unionExtents(rounded)) {
    const last = merged.at(-1);
    if (last && e.start - last.end < mergeGap) last.end = Math.max(last.end, e.end);
    else merged.push(e);
  }
  return merged.map((e) => ({ offset: e.start, length: e.end - e.start }));
}
