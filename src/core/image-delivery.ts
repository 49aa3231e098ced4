// Image delivery v2 for one stored image: its block map, its zstd chunk file and its bmaptool file, built from
// the raw file in the store. Nothing is visible under the image's name until every file is complete and synced.
import { open, rm } from 'node:fs/promises';
import { AppError } from '../contracts/errors.js';
import type { ImageDeliveryRecord } from '../db/image.repository.js';
import { buildBlockMap } from './block-map/index.js';
import { buildImageChunks, renderBmap, type ChunkBuildOptions } from './image-chunks.builder.js';
import type { ImageStore } from './image-store.js';

export async function buildImageDelivery(store: ImageStore, filename: string, imageSize: number, options: Pick<ChunkBuildOptions, 'precompressed' | 'signal'> = {}): Promise<ImageDeliveryRecord> {
  const rawPath = store.pathOf(filename);
  const targets = store.deliveryPathsOf(filename);
  const temp = { chunks: store.tempPath(), bmap: store.tempPath() };
  try {
    const map = await buildBlockMap(rawPath, imageSize);
    const chunks = await buildImageChunks(rawPath, map, temp.chunks, options);
    await writeSynced(temp.bmap, renderBmap(imageSize, chunks));
    await store.publish([[temp.chunks, targets.chunks], [temp.bmap, targets.bmap]]);
    return { block_map: map.kind, block_map_notes: map.notes, chunks };
  } catch (error) {
    await Promise.all([rm(temp.chunks, { force: true }), rm(temp.bmap, { force: true })]);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new AppError('INSUFFICIENT_STORAGE', 'The image store ran out of disk space while preparing the image for delivery; free some space or delete old images.');
    }
    throw error;
  }
}

async function writeSynced(path: string, text: string): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
}
