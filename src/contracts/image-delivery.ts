// Image delivery v2: the block map of a master image and its store of independently decompressible zstd chunks.
// Shared by the server (which builds and serves them), the installer (which fetches, checks and writes them) and
// the tests. The raw image's identity stays its SHA-256 and size; chunks only carry the bytes the disk needs.
import { Type, type Static } from 'typebox';

/** 1 PiB: no disk offset or size a manifest names may exceed it (the same bound as LIMITS.bytes in domain.ts). */
const MAX_DISK_BYTES = 2 ** 50;

/** Bytes of raw data per chunk, at most (the last chunk of a mapped range may be shorter). */
export const CHUNK_RAW_BYTES = 4 << 20;
/** The map's granularity: ranges start and end on these (the image's last block may be partial). */
export const MAP_BLOCK_BYTES = 4096;

export const IMAGE_SOURCE_FORMATS = ['raw', 'gzip', 'xz', 'zstd'] as const;
export type ImageSourceFormat = (typeof IMAGE_SOURCE_FORMATS)[number];
export const ImageSourceFormat = Type.Enum(IMAGE_SOURCE_FORMATS);

/**
 * How the map was made: `filesystems` from the partition table and each filesystem's own allocation structures;
 * `whole` when that was not possible (notes say why) and every byte of the image is mapped.
 */
export const BLOCK_MAP_KINDS = ['filesystems', 'whole'] as const;
export type BlockMapKind = (typeof BLOCK_MAP_KINDS)[number];
export const BlockMapKind = Type.Enum(BLOCK_MAP_KINDS);

/** A byte range of the disk: `offset` and `length` in bytes. */
export const ByteRange = Type.Object({
  offset: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  length: Type.Integer({ minimum: 1, maximum: MAX_DISK_BYTES }),
});
export type ByteRange = Static<typeof ByteRange>;

export interface BlockMap {
  kind: BlockMapKind;
  /** Sorted, disjoint, non-adjacent ranges that must be written; their union covers every byte not known to be free. */
  ranges: ByteRange[];
  /** One line per partition or finding, for the image page ("p2 ext4: 812 MiB used of 2.4 GiB", "p3 type 0xda: sent whole"). */
  notes: string[];
}

export const ImageChunk = Type.Object({
  /** Where the chunk's raw bytes go on the disk. */
  offset: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  raw_length: Type.Integer({ minimum: 1, maximum: CHUNK_RAW_BYTES }),
  /** zstd's worst case on incompressible data is a little over the raw length; twice it is plenty. */
  compressed_length: Type.Integer({ minimum: 1, maximum: 2 * CHUNK_RAW_BYTES }),
  /** SHA-256 of the raw (decompressed) bytes, hex. */
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});
export type ImageChunk = Static<typeof ImageChunk>;

export const MANIFEST_FORMAT = 'pitcrew-chunked-image/1';

/** GET {image_url}.manifest on the device listener. */
export const ImageManifest = Type.Object({
  format: Type.Literal(MANIFEST_FORMAT),
  image_sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  image_size: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  block_map: BlockMapKind,
  mapped_bytes: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  compressed_bytes: Type.Integer({ minimum: 0, maximum: MAX_DISK_BYTES }),
  compression: Type.Literal('zstd'),
  /** Chunk i (0-based, the order of `chunks`) is GET `${chunk_url}/${i}`: one zstd frame, `compressed_length` bytes. */
  chunk_url: Type.String(),
  chunks: Type.Array(ImageChunk),
});
export type ImageManifest = Static<typeof ImageManifest>;

/** The device listener's paths for an image's v2 delivery, all beside its raw download URL. */
export const deliveryUrls = (imageUrl: string) => ({
  manifest: `${imageUrl}.manifest`,
  chunks: `${imageUrl}.chunks`,
  bmap: `${imageUrl}.bmap`,
});
