import type { MasterImage, ProductType } from '../contracts/domain.js';
import type { BlockMapKind, ImageSourceFormat } from '../contracts/image-delivery.js';
import type { Db } from './database.js';

interface ImageRow {
  id: number;
  product_type: ProductType;
  version: string;
  filename: string;
  size_bytes: number;
  sha256: string;
  description: string | null;
  uploaded_at: string;
  active: 0 | 1;
  generalize: 0 | 1;
  generalization_preview: string | null;
  first_boot_preview: string | null;
  source_format: ImageSourceFormat;
  block_map: BlockMapKind | null;
  block_map_notes: string;
  mapped_bytes: number | null;
  compressed_bytes: number | null;
  chunk_count: number;
  /** JSON array of the other images with the same sha256. */
  same_content: string;
}

/** A chunk of an image's v2 store, as kept: where its raw bytes go and where its zstd frame lies in the chunk file. */
export interface StoredChunk {
  disk_offset: number;
  raw_length: number;
  file_offset: number;
  compressed_length: number;
  sha256: string;
}

/** The block map and chunk index of an image, recorded with it in one transaction. */
export interface ImageDeliveryRecord {
  block_map: BlockMapKind;
  block_map_notes: string[];
  chunks: StoredChunk[];
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : 0);

function toImage(row: ImageRow): MasterImage {
  const { active, generalize, generalization_preview, first_boot_preview, block_map, block_map_notes, mapped_bytes, compressed_bytes, chunk_count, same_content, ...rest } = row;
  const delivery = block_map === null || mapped_bytes === null || compressed_bytes === null
    ? null
    : {
        block_map,
        block_map_notes: JSON.parse(block_map_notes) as string[],
        mapped_bytes,
        compressed_bytes,
        chunk_count,
        mapped_ratio: ratio(mapped_bytes, row.size_bytes),
        wire_ratio: ratio(row.size_bytes, compressed_bytes),
      };
  return {
    ...rest,
    active: active === 1,
    generalize: generalize === 1,
    generalization_preview: generalization_preview === null ? null : (JSON.parse(generalization_preview) as MasterImage['generalization_preview']),
    first_boot_preview: first_boot_preview === null ? null : (JSON.parse(first_boot_preview) as MasterImage['first_boot_preview']),
    delivery,
    same_content_as: JSON.parse(same_content) as MasterImage['same_content_as'],
  };
}

export type NewImage = Omit<MasterImage, 'id' | 'active' | 'delivery' | 'generalize' | 'same_content_as'>;
type ImageInsert = Omit<NewImage, 'generalization_preview' | 'first_boot_preview'> & { generalization_preview: string | null; first_boot_preview: string | null };
const jsonOrNull = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/** An operator's change to an image: only the fields given change. */
export interface ImageChange {
  description?: string | null;
  generalize?: boolean;
}

const SELECT = `SELECT images.*, (SELECT count(*) FROM image_chunks WHERE image_id = images.id) AS chunk_count,
  (SELECT json_group_array(json_object('id', other.id, 'product_type', other.product_type, 'version', other.version))
     FROM (SELECT id, product_type, version FROM images AS o WHERE o.sha256 = images.sha256 AND o.id <> images.id ORDER BY o.id) AS other) AS same_content
  FROM images`;

export function createImageRepository(db: Db) {
  const byId = db.prepare<[number], ImageRow>(`${SELECT} WHERE id = ?`);
  const byFilename = db.prepare<[string], ImageRow>(`${SELECT} WHERE filename = ?`);
  const byVersion = db.prepare<[ProductType, string], ImageRow>(`${SELECT} WHERE product_type = ? AND version = ?`);
  const activeFor = db.prepare<[ProductType], ImageRow>(`${SELECT} WHERE product_type = ? AND active = 1`);
  const all = db.prepare<[], ImageRow>(`${SELECT} ORDER BY product_type, uploaded_at DESC, id DESC`);
  const bySha256 = db.prepare<[string], ImageRow>(`${SELECT} WHERE sha256 = ? ORDER BY id`);
  const withoutDelivery = db.prepare<[], ImageRow>(`${SELECT} WHERE block_map IS NULL ORDER BY active DESC, id`);
  // Not inspected yet, or the inspection found a problem (a tool missing then, a read that failed): tried again.
  const uninspected = db.prepare<[], ImageRow>(
    `${SELECT} WHERE first_boot_preview IS NULL OR json_extract(first_boot_preview, '$.problem') IS NOT NULL ORDER BY active DESC, id`,
  );
  const insert = db.prepare<ImageInsert, { id: number }>(`
    INSERT INTO images (product_type, version, filename, size_bytes, sha256, description, uploaded_at, active, source_format, generalization_preview, first_boot_preview)
    VALUES (@product_type, @version, @filename, @size_bytes, @sha256, @description, @uploaded_at, 0, @source_format, @generalization_preview, @first_boot_preview) RETURNING id`);
  const setInspection = db.prepare<{ id: number; generalization_preview: string | null; first_boot_preview: string | null }>(
    'UPDATE images SET generalization_preview = @generalization_preview, first_boot_preview = @first_boot_preview WHERE id = @id');
  const setDelivery = db.prepare<{ id: number; block_map: BlockMapKind; notes: string; mapped: number; compressed: number }>(`
    UPDATE images SET block_map = @block_map, block_map_notes = @notes, mapped_bytes = @mapped, compressed_bytes = @compressed
    WHERE id = @id`);
  const clearChunks = db.prepare<[number]>('DELETE FROM image_chunks WHERE image_id = ?');
  const insertChunk = db.prepare<StoredChunk & { image_id: number; idx: number }>(`
    INSERT INTO image_chunks (image_id, idx, disk_offset, raw_length, file_offset, compressed_length, sha256)
    VALUES (@image_id, @idx, @disk_offset, @raw_length, @file_offset, @compressed_length, @sha256)`);
  const chunksOf = db.prepare<[number], StoredChunk>(
    'SELECT disk_offset, raw_length, file_offset, compressed_length, sha256 FROM image_chunks WHERE image_id = ? ORDER BY idx');
  const chunkAt = db.prepare<[number, number], StoredChunk>(
    'SELECT disk_offset, raw_length, file_offset, compressed_length, sha256 FROM image_chunks WHERE image_id = ? AND idx = ?');
  const deactivate = db.prepare<[ProductType]>('UPDATE images SET active = 0 WHERE product_type = ? AND active = 1');
  const activate = db.prepare<[number]>('UPDATE images SET active = 1 WHERE id = ?');
  const remove = db.prepare<[number]>('DELETE FROM images WHERE id = ?');
  const update = db.prepare<{ id: number; description: string | null; set_description: 0 | 1; generalize: 0 | 1 | null }>(`
    UPDATE images SET description = CASE WHEN @set_description = 1 THEN @description ELSE description END,
                      generalize = coalesce(@generalize, generalize)
     WHERE id = @id`);
  const totalBytes = db.prepare<[], { n: number }>('SELECT coalesce(sum(size_bytes), 0) AS n FROM images');

  const map = (row: ImageRow | undefined) => (row ? toImage(row) : undefined);
  const find = (id: number) => map(byId.get(id));

  /** Callers run this inside a transaction, so an image is never seen with half its chunk index. */
  function recordDelivery(id: number, delivery: ImageDeliveryRecord): void {
    clearChunks.run(id);
    delivery.chunks.forEach((chunk, idx) => insertChunk.run({ image_id: id, idx, ...chunk }));
    setDelivery.run({
      id,
      block_map: delivery.block_map,
      notes: JSON.stringify(delivery.block_map_notes),
      mapped: delivery.chunks.reduce((sum, chunk) => sum + chunk.raw_length, 0),
      compressed: delivery.chunks.reduce((sum, chunk) => sum + chunk.compressed_length, 0),
    });
  }

  return {
    find,
    findByFilename: (filename: string) => map(byFilename.get(filename)),
    findByVersion: (product: ProductType, version: string) => map(byVersion.get(product, version)),
    findActive: (product: ProductType) => map(activeFor.get(product)),
    list: (): MasterImage[] => all.all().map(toImage),
    /** Images holding exactly these bytes. */
    listBySha256: (sha256: string): MasterImage[] => bySha256.all(sha256).map(toImage),
    /** Images registered before delivery v2, active ones first: their chunks are built in the background. */
    listWithoutDelivery: (): MasterImage[] => withoutDelivery.all().map(toImage),
    /** Images registered before their first-boot mechanism was inspected, or whose inspection failed; active first. */
    listUninspected: (): MasterImage[] => uninspected.all().map(toImage),
    /** Callers run this inside a transaction when `delivery` is given. */
    insert: (image: NewImage, delivery?: ImageDeliveryRecord): MasterImage => {
      const { id } = insert.get({ ...image, generalization_preview: jsonOrNull(image.generalization_preview), first_boot_preview: jsonOrNull(image.first_boot_preview) })!;
      if (delivery) recordDelivery(id, delivery);
      return find(id)!;
    },
    recordDelivery: (id: number, delivery: ImageDeliveryRecord): MasterImage => {
      recordDelivery(id, delivery);
      return find(id)!;
    },
    /** What inspecting the image found (both previews at once). */
    recordInspection: (id: number, inspection: Pick<MasterImage, 'generalization_preview' | 'first_boot_preview'>): MasterImage | undefined => {
      setInspection.run({ id, generalization_preview: jsonOrNull(inspection.generalization_preview), first_boot_preview: jsonOrNull(inspection.first_boot_preview) });
      return find(id);
    },
    chunks: (id: number): StoredChunk[] => chunksOf.all(id),
    chunk: (id: number, index: number): StoredChunk | undefined => chunkAt.get(id, index),
    /** Callers run this inside a transaction so the product is never seen with two active images. */
    activate: (image: MasterImage): MasterImage => {
      deactivate.run(image.product_type);
      activate.run(image.id);
      return find(image.id)!;
    },
    update: (id: number, change: ImageChange): MasterImage | undefined => {
      update.run({
        id,
        description: change.description ?? null,
        set_description: change.description !== undefined ? 1 : 0,
        generalize: change.generalize === undefined ? null : change.generalize ? 1 : 0,
      });
      return find(id);
    },
    delete: (id: number): void => void remove.run(id),
    totalBytes: (): number => totalBytes.get()!.n,
  };
}
export type ImageRepository = ReturnType<typeof createImageRepository>;
