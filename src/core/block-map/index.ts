// The block map of a master image: which byte ranges of the disk must be written (see block-map.builder.ts).
export { buildBlockMap, MERGE_GAP_BYTES, ZERO_SCAN_BLOCK_BYTES } from './block-map.builder.js';
