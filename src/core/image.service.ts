// The master-image registry: at most one active image per product, unique (product, version), and every
// registered file verified by its SHA-256.
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import type { MasterImage, ProductType } from '../contracts/domain.js';
import type { ImageUploadFields } from '../contracts/api.js';
import { AppError } from '../contracts/errors.js';
import { isoOf, type CoreContext } from './context.js';
import { safeImageFilename, type ImageStore, type IngestOptions, type StoredFile } from './image-store.js';

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export function createImageService(ctx: CoreContext, store: ImageStore) {
  const { repos } = ctx;

  const get = (id: number): MasterImage => {
    const image = repos.images.find(id);
    if (!image) throw new AppError('NOT_FOUND', `There is no image ${id}.`);
    return image;
  };

  /** Checks the metadata before any byte is stored, so a clash fails fast instead of after a 4 GB upload. */
  function checkNew(fields: ImageUploadFields): void {
    if (fields.product_type !== 'KXP2' && fields.product_type !== 'RXP2') throw new AppError('VALIDATION', 'Product type must be KXP2 or RXP2.');
    if (!VERSION.test(fields.version)) throw new AppError('VALIDATION', `Version "${String(fields.version).slice(0, 64)}" must be letters, digits, dots, dashes or underscores (e.g. 2.1.0).`);
    if (repos.images.findByVersion(fields.product_type, fields.version)) {
      throw new AppError('CONFLICT', `${fields.product_type} version ${fields.version} already exists; choose a new version.`);
    }
  }

  function uniqueFilename(fields: ImageUploadFields, original: string): string {
    const wanted = safeImageFilename(fields.product_type, fields.version, original);
    if (!repos.images.findByFilename(wanted) && !existsSync(store.pathOf(wanted))) return wanted;
    for (let n = 2; ; n++) {
      const candidate = wanted.replace(/(\.[^.]*)?$/, (ext) => `-${n}${ext}`);
      if (!repos.images.findByFilename(candidate) && !existsSync(store.pathOf(candidate))) return candidate;
    }
  }

  async function register(fields: ImageUploadFields, original: string, write: (filename: string) => Promise<StoredFile>): Promise<MasterImage> {
    checkNew(fields);
    const stored = await write(uniqueFilename(fields, original));
    try {
      return ctx.write((emit) => {
        checkNew(fields); // Another upload of the same version may have finished while this one streamed.
        const image = repos.images.insert({
          product_type: fields.product_type,
          version: fields.version,
          filename: stored.filename,
          size_bytes: stored.size_bytes,
          sha256: stored.sha256,
          description: fields.description?.trim() || null,
          uploaded_at: isoOf(ctx.now()),
        });
        emit('image_uploaded', { image_id: image.id, image });
        return image;
      });
    } catch (error) {
      await store.remove(stored.filename);
      throw error;
    }
  }

  return {
    get,
    checkNew,
    list: (): MasterImage[] => repos.images.list(),
    findActive: (product: ProductType): MasterImage | undefined => repos.images.findActive(product),
    /** An image's file for download, only if it is registered (never a temporary or foreign file). */
    fileFor(filename: string): { image: MasterImage; path: string } {
      const image = repos.images.findByFilename(filename);
      if (!image) throw new AppError('NOT_FOUND', `There is no image file ${filename.slice(0, 100)}.`);
      return { image, path: store.pathOf(image.filename) };
    },

    /** Registers an image streamed from anywhere (an HTTP upload); the stream is consumed exactly once. */
    upload: (fields: ImageUploadFields, original: string, source: Readable, options?: IngestOptions) =>
      register(fields, original, (filename) => store.ingest(source, filename, options)),

    /** Registers a file already on the server's disk (CLI): copied into the store and hashed in one pass. */
    registerFile: (fields: ImageUploadFields, path: string, options?: IngestOptions) => {
      if (!existsSync(path)) throw new AppError('NOT_FOUND', `There is no file ${path}.`);
      return register(fields, path, (filename) => store.ingestFile(path, filename, options));
    },

    /** Makes this the one active image of its product, atomically replacing the previous one. */
    activate(id: number): MasterImage {
      return ctx.write((emit) => {
        const image = repos.images.activate(get(id));
        emit('image_activated', { image_id: image.id, image });
        return image;
      });
    },

    async delete(id: number): Promise<void> {
      const image = ctx.write((emit) => {
        const found = get(id);
        if (found.active) throw new AppError('CONFLICT', `${found.product_type} ${found.version} is the active image; activate another one before deleting it.`);
        repos.images.delete(id);
        emit('image_deleted', { image_id: id });
        return found;
      });
      await store.remove(image.filename);
    },
  };
}
export type ImageService = ReturnType<typeof createImageService>;
