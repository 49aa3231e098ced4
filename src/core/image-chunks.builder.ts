// Builds an image's v2 chunk store from its raw file and block map: every mapped range is cut at the disk's
// CHUNK_RAW_BYTES boundaries into pieces, each hashed (SHA-256 of the raw bytes) and compressed into its own zstd
// frame, and the frames are appended in disk order to one chunk file. A piece that is a whole window compressed
// while the image streamed in (chunk-precompressor.ts) is copied from there instead. Pieces compress on every core
// at once; memory holds only the pieces in flight. The same pieces, as block ranges with their checksums, make
// the bmaptool file.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { CHUNK_RAW_BYTES, MAP_BLOCK_BYTES, type BlockMap, type ByteRange } from '../contracts/image-delivery.js';
import type { StoredChunk } from '../db/image.repository.js';
import type { Precompressed, PrecompressedWindow } from './chunk-precompressor.js';
import { compressZstd, sharedBuffer } from './zstd.compressor.js';

export interface ChunkBuildOptions {
  /** Chunks compressing at once (default: one per core). */
  concurrency?: number;
  /** Windows already compressed while the image streamed in. */
  precompressed?: Precompressed;
  signal?: AbortSignal;
}

/** The pieces a map is cut into, in disk order: each mapped range split at every multiple of CHUNK_RAW_BYTES. */
export function chunkRanges(map: BlockMap): ByteRange[] {
  const pieces: ByteRange[] = [];
  for (const range of map.ranges) {
    const end = range.offset + range.length;
    for (let offset = range.offset; offset < end; ) {
      const next = Math.min(end, (Math.floor(offset / CHUNK_RAW_BYTES) + 1) * CHUNK_RAW_BYTES);
      pieces.push({ offset, length: next - offset });
      offset = next;
    }
  }
  return pieces;
}

/** Writes the chunk file at `chunkPath` (which must not exist) and returns its index, in disk order. */
export async function buildImageChunks(rawPath: string, map: BlockMap, chunkPath: string, options: ChunkBuildOptions = {}): Promise<StoredChunk[]> {
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const raw = await open(rawPath, 'r');
  let ahead: FileHandle | null = null;
  let out: FileHandle;
  try {
    ahead = options.precompressed ? await open(options.precompressed.path, 'r') : null;
    out = await open(chunkPath, 'wx');
  } catch (error) {
    await ahead?.close();
    await raw.close();
    throw error;
  }
  const chunks: StoredChunk[] = [];
  const inFlight: Array<Promise<{ piece: ByteRange; sha256: string; frame: Buffer }>> = [];
  let fileOffset = 0;

  const writeOldest = async () => {
    const { piece, sha256, frame } = await inFlight.shift()!;
    await out.write(frame, 0, frame.length, fileOffset);
    chunks.push({ disk_offset: piece.offset, raw_length: piece.length, file_offset: fileOffset, compressed_length: frame.length, sha256 });
    fileOffset += frame.length;
  };

  const compressPiece = async (piece: ByteRange) => {
    const data = sharedBuffer(piece.length);
    const { bytesRead } = await raw.read(data, 0, piece.length, piece.offset);
    if (bytesRead !== piece.length) throw new Error(`the image ends at ${piece.offset + bytesRead}, inside its block map (${piece.offset + piece.length})`);
    const sha256 = createHash('sha256').update(data).digest('hex');
    return { piece, sha256, frame: await compressZstd(data) };
  };

  const copyPiece = async (piece: ByteRange, done: PrecompressedWindow) => {
    const frame = Buffer.allocUnsafe(done.compressed_length);
    await ahead!.read(frame, 0, frame.length, done.file_offset);
    return { piece, sha256: done.sha256, frame };
  };

  try {
    for (const piece of chunkRanges(map)) {
      options.signal?.throwIfAborted();
      const done = piece.offset % CHUNK_RAW_BYTES === 0 ? options.precompressed?.windows.get(piece.offset / CHUNK_RAW_BYTES) : undefined;
      const next = done?.raw_length === piece.length ? copyPiece(piece, done) : compressPiece(piece);
      next.catch(() => {}); // awaited in order below; an early failure must not go unhandled meanwhile
      inFlight.push(next);
      if (inFlight.length >= concurrency) await writeOldest();
    }
    while (inFlight.length) await writeOldest();
    await out.sync();
    return chunks;
  } finally {
    await Promise.allSettled(inFlight);
    await out.close();
    await ahead?.close();
    await raw.close();
  }
}

/**
 * The same map as a bmaptool file (format 2.0, SHA-256 per range), so `bmaptool copy` can deploy from the raw
 * image's URL and check every range while it writes. One range per chunk: their checksums are already known.
 */
export function renderBmap(imageSize: number, chunks: readonly StoredChunk[]): string {
  const blocks = Math.ceil(imageSize / MAP_BLOCK_BYTES);
  let mapped = 0;
  const ranges = chunks.map((chunk) => {
    const first = Math.floor(chunk.disk_offset / MAP_BLOCK_BYTES);
    const last = Math.ceil((chunk.disk_offset + chunk.raw_length) / MAP_BLOCK_BYTES) - 1;
    mapped += last - first + 1;
    return `        <Range chksum="${chunk.sha256}"> ${first === last ? first : `${first}-${last}`} </Range>`;
  });
  const percent = blocks ? ((100 * mapped) / blocks).toFixed(1) : '0.0';
  const text = [
    '<?xml version="1.0" ?>',
    '<!-- Block map of a Pitcrew master image: the blocks that must be written to a card; the rest is free space. -->',
    '<bmap version="2.0">',
    `    <ImageSize> ${imageSize} </ImageSize>`,
    `    <BlockSize> ${MAP_BLOCK_BYTES} </BlockSize>`,
    `    <BlocksCount> ${blocks} </BlocksCount>`,
    `    <!-- Mapped: ${percent}% of the image -->`,
    `    <MappedBlocksCount> ${mapped} </MappedBlocksCount>`,
    '    <ChecksumType> sha256 </ChecksumType>',
    `    <BmapFileChecksum> ${'0'.repeat(64)} </BmapFileChecksum>`,
    '    <BlockMap>',
    ...ranges,
    '    </BlockMap>',
    '</bmap>',
    '',
  ].join('\n');
  // The file's own checksum is taken with its field all zeros, then written into that field.
  return text.replace('0'.repeat(64), createHash('sha256').update(text).digest('hex'));
}
