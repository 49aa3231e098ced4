// The master-image registry: at most one active image per product, unique (product, version), and every
// registered file verified by its SHA-256.
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { rm } from 'node:fs/promises';
import type { MasterImage, ProductType } from '../contracts/domain.js';
import type { ImageGeneralizationReport, ImageUpdate, ImageUploadFields } from '../contracts/api.js';
import { MANIFEST_FORMAT, type ImageManifest } from '../contracts/image-delivery.js';
import type { StoredChunk } from '../db/image.repository.js';
import { AppError } from '../contracts/errors.js';
import { isoOf, type CoreContext, type Emit } from './context.js';
import { safeImageFilename, type ImageStore, type IngestOptions, type StoredFile } from './image-store.js';
import { buildImageDelivery } from './image-delivery.js';
import { inspectImage } from './image-inspection.js';
import { checkDiskImage, NotADiskImageError } from '../disk-layout/disk-image.check.js';

/** How an image is named in the audit log: `KXP2 1.4`. */
const imageLabel = (image: Pick<MasterImage, 'product_type' | 'version'>) => `${image.product_type} ${image.version}`;

export interface UploadOptions extends IngestOptions {
  /**
   * Runs once the file is stored and hashed, before it is registered; throwing discards the file and registers
   * nothing (an HTTP upload uses it to refuse form parts that arrive after the file).
   */
  beforeRegister?: (stored: StoredFile) => Promise<void> | void;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** The file's own name, as the person who chose it knows it. */
const displayName = (original: string) => original.replaceAll('\\', '/').split('/').pop()!.slice(0, 100);

export function createImageService(ctx: CoreContext, store: ImageStore) {
  const { repos } = ctx;

  const get = (id: number): MasterImage => {
    const image = repos.images.find(id);
    if (!image) throw new AppError('NOT_FOUND', `There is no image ${id}.`);
    return image;
  };

  /** A registered image whose v2 delivery is built; anything else is "not found" to a device. */
  function deliverable(filename: string): MasterImage & { delivery: NonNullable<MasterImage['delivery']> } {
    const image = repos.images.findByFilename(filename);
    if (!image) throw new AppError('NOT_FOUND', `There is no image file ${filename.slice(0, 100)}.`);
    if (!image.delivery) throw new AppError('NOT_FOUND', `${image.product_type} ${image.version} has no chunks yet; download the raw image instead.`);
    return image as MasterImage & { delivery: NonNullable<MasterImage['delivery']> };
  }

  /** Background preparations of images registered before delivery v2, by image id. */
  const preparing = new Map<number, { abort: () => void; done: Promise<void> }>();

  // Versions and file names of uploads still streaming: a second upload of the same version fails fast instead
  // of after its bytes are in, and two uploads never pick the same file name.
  const versionsInFlight = new Set<string>();
  const filenamesInFlight = new Set<string>();
  const versionKey = (fields: ImageUploadFields) => `${fields.product_type}\u0000${fields.version}`;

  /** Checks the metadata before any byte is stored, so a clash fails fast instead of after a 4 GB upload. */
  function checkNew(fields: ImageUploadFields): void {
    if (fields.product_type !== 'KXP2' && fields.product_type !== 'RXP2') throw new AppError('VALIDATION', 'Product type must be KXP2 or RXP2.');
    if (!VERSION.test(fields.version)) throw new AppError('VALIDATION', `Version "${String(fields.version).slice(0, 64)}" must be letters, digits, dots, dashes or underscores (e.g. 2.1.0).`);
    if (repos.images.findByVersion(fields.product_type, fields.version)) {
      throw new AppError('CONFLICT', `${fields.product_type} version ${fields.version} already exists; choose a new version.`);
    }
    if (versionsInFlight.has(versionKey(fields))) {
      throw new AppError('CONFLICT', `${fields.product_type} version ${fields.version} is being uploaded right now; wait for that upload or choose a new version.`);
    }
  }

  function uniqueFilename(fields: ImageUploadFields, original: string): string {
    // Taken too where this image's delivery files would replace another's raw file (images from before v2).
    const taken = (name: string) =>
      filenamesInFlight.has(name) || [name, `${name}.chunks`, `${name}.bmap`].some((file) => !!repos.images.findByFilename(file)) || existsSync(store.pathOf(name));
    const wanted = safeImageFilename(fields.product_type, fields.version, original);
    if (!taken(wanted)) return wanted;
    for (let n = 2; ; n++) {
      const candidate = wanted.replace(/(\.[^.]*)?$/, (ext) => `-${n}${ext}`);
      if (!taken(candidate)) return candidate;
    }
  }

  /** The stored bytes must look like a bootable disk (checked after any decompression): else refused, with why. */
  async function refuseUnlessDiskImage(stored: StoredFile, original: string): Promise<void> {
    // An empty file is a mistake in the form, not a wrong kind of file.
    if (stored.size_bytes === 0) throw new AppError('VALIDATION', `The file ${displayName(original)} is empty.`);
    await checkDiskImage(store.pathOf(stored.filename), stored.size_bytes).catch((error: unknown) => {
      throw asRefusal(error, original);
    });
  }

  /** A NotADiskImageError (from the store's first-sector gate or the full check) as the answer for a person. */
  function asRefusal(error: unknown, original: string): unknown {
    if (!(error instanceof NotADiskImageError)) return error;
    return new AppError('NOT_A_DISK_IMAGE', `${displayName(original)} is not a disk image: ${error.message}. Upload a raw disk image (.img), or one compressed as .img.xz, .img.gz or .img.zst.`);
  }

  /** The other images with these bytes now list one more (or one fewer) image of the same content. */
  function announceSameContent(emit: Emit, sha256: string, changedId: number): void {
    for (const other of repos.images.listBySha256(sha256)) {
      if (other.id !== changedId) emit('image_updated', { image_id: other.id, image: other });
    }
  }

  async function register(
    fields: ImageUploadFields,
    original: string,
    write: (filename: string) => Promise<StoredFile>,
    beforeRegister?: (stored: StoredFile) => Promise<void> | void,
    signal?: AbortSignal,
  ): Promise<MasterImage> {
    checkNew(fields);
    const filename = uniqueFilename(fields, original);
    const key = versionKey(fields);
    versionsInFlight.add(key);
    filenamesInFlight.add(filename);
    try {
      const stored = await write(filename).catch((error: unknown) => {
        throw asRefusal(error, original);
      });
      try {
        const delivery = await (async () => {
          await refuseUnlessDiskImage(stored, original);
          return buildImageDelivery(store, stored.filename, stored.size_bytes, { precompressed: stored.precompressed, signal });
        })().finally(() => rm(stored.precompressed.path, { force: true }));
        const inspection = await inspectImage(store.pathOf(stored.filename));
        await beforeRegister?.(stored);
        return ctx.write((emit) => {
          // Another path (the CLI, another process) may have registered this version while the bytes streamed.
          if (repos.images.findByVersion(fields.product_type, fields.version)) {
            throw new AppError('CONFLICT', `${fields.product_type} version ${fields.version} already exists; choose a new version.`);
          }
          const image = repos.images.insert({
            product_type: fields.product_type,
            version: fields.version,
            filename: stored.filename,
            size_bytes: stored.size_bytes,
            sha256: stored.sha256,
            source_format: stored.source_format,
            generalization_preview: inspection.generalization,
            first_boot_preview: inspection.firstBoot,
            description: fields.description?.trim() || null,
            uploaded_at: isoOf(ctx.now()),
          }, delivery);
          ctx.audit({ action: 'image.upload', target: imageLabel(image), details: { ...fields, source: basename(original), sha256: image.sha256 } });
          emit('image_uploaded', { image_id: image.id, image });
          announceSameContent(emit, image.sha256, image.id);
          return image;
        });
      } catch (error) {
        await store.remove(stored.filename);
        throw error;
      }
    } finally {
      versionsInFlight.delete(key);
      filenamesInFlight.delete(filename);
    }
  }

  return {
    get,
    checkNew,
    list: (): MasterImage[] => repos.images.list(),
    findActive: (product: ProductType): MasterImage | undefined => repos.images.findActive(product),
    /** Space left for new images, so an upload that cannot fit is refused before it starts. */
    freeBytes: (): Promise<number> => store.freeBytes(),
    /** Uploads still streaming (or being cleaned up after a failure): their versions are held until they end. */
    uploadsInProgress: (): number => versionsInFlight.size,

    /** Whether `filename` is a registered image's raw file. */
    isImageFile: (filename: string): boolean => !!repos.images.findByFilename(filename),

    /** An image's file for download, only if it is registered (never a temporary or foreign file). */
    fileFor(filename: string): { image: MasterImage; path: string } {
      const image = repos.images.findByFilename(filename);
      if (!image) throw new AppError('NOT_FOUND', `There is no image file ${filename.slice(0, 100)}.`);
      return { image, path: store.pathOf(image.filename) };
    },

    /** The v2 manifest of a registered image file; `chunkUrl` is where its chunks are fetched (`/${index}` appended). */
    manifestOf(filename: string, chunkUrl: string): ImageManifest {
      const image = deliverable(filename);
      return {
        format: MANIFEST_FORMAT,
        image_sha256: image.sha256,
        image_size: image.size_bytes,
        block_map: image.delivery.block_map,
        mapped_bytes: image.delivery.mapped_bytes,
        compressed_bytes: image.delivery.compressed_bytes,
        compression: 'zstd',
        chunk_url: chunkUrl,
        chunks: repos.images.chunks(image.id).map(({ disk_offset, raw_length, compressed_length, sha256 }) => ({
          offset: disk_offset, raw_length, compressed_length, sha256,
        })),
      };
    },

    /** One chunk of a registered image file: where its zstd frame lies in the chunk file. */
    chunkOf(filename: string, index: number): { image: MasterImage; chunk: StoredChunk; path: string } {
      const image = deliverable(filename);
      const chunk = repos.images.chunk(image.id, index);
      if (!chunk) throw new AppError('NOT_FOUND', `${image.product_type} ${image.version} has no chunk ${index}; it has ${image.delivery.chunk_count}.`);
      return { image, chunk, path: store.deliveryPathsOf(image.filename).chunks };
    },

    /** The bmaptool file of a registered image file. */
    bmapOf(filename: string): { image: MasterImage; path: string } {
      const image = deliverable(filename);
      return { image, path: store.deliveryPathsOf(image.filename).bmap };
    },

    /**
     * Builds the v2 delivery of images registered before it existed, active ones first, one at a time. Until an
     * image's chunks are ready its devices take the raw path. Failures are reported and the image stays raw-only.
     */
    async prepareMissingDeliveries(onFailure: (image: MasterImage, error: unknown) => void, signal?: AbortSignal): Promise<number> {
      let prepared = 0;
      for (const listed of repos.images.listWithoutDelivery()) {
        if (signal?.aborted) break;
        const image = repos.images.find(listed.id);
        if (!image || image.delivery) continue; // deleted, or prepared by another process, since the list was read
        const clash = [`${image.filename}.chunks`, `${image.filename}.bmap`].find((file) => repos.images.findByFilename(file));
        if (clash) {
          onFailure(image, new Error(`its chunk files would replace the file of another image, ${clash}; upload it again to deliver it in chunks`));
          continue;
        }
        const preparation = new AbortController();
        const stop = () => preparation.abort(signal?.reason);
        signal?.addEventListener('abort', stop, { once: true });
        const done = (async () => {
          const delivery = await buildImageDelivery(store, image.filename, image.size_bytes, { signal: preparation.signal });
          const updated = ctx.write((emit) => {
            if (!repos.images.find(image.id)) return undefined; // deleted by another process (the CLI) meanwhile
            const result = repos.images.recordDelivery(image.id, delivery);
            emit('image_updated', { image_id: result.id, image: result });
            return result;
          });
          if (updated) prepared++;
          // Its files go with it, unless the name already belongs to an image registered since.
          else if (!repos.images.findByFilename(image.filename)) await store.remove(image.filename);
        })();
        preparing.set(image.id, { abort: () => preparation.abort(), done: done.catch(() => {}) });
        try {
          await done;
        } catch (error) {
          if (!preparation.signal.aborted) onFailure(image, error);
        } finally {
          preparing.delete(image.id);
          signal?.removeEventListener('abort', stop);
        }
      }
      return prepared;
    },

    /**
     * Inspects the images registered before the first-boot mechanism was, and again those whose inspection found a
     * problem (a tool installed since, a read that failed), one at a time; quick (a few filesystem reads each). A list
     * of generalisation steps already known is kept when this inspection could not make one. Answers how many images
     * changed.
     */
    async inspectUninspected(signal?: AbortSignal): Promise<number> {
      let changed = 0;
      for (const image of repos.images.listUninspected()) {
        if (signal?.aborted) break;
        const inspection = await inspectImage(store.pathOf(image.filename));
        const found = {
          generalization_preview: inspection.generalization.steps === null && image.generalization_preview?.steps ? image.generalization_preview : inspection.generalization,
          first_boot_preview: inspection.firstBoot,
        };
        if (JSON.stringify(found) === JSON.stringify({ generalization_preview: image.generalization_preview, first_boot_preview: image.first_boot_preview })) continue;
        ctx.write((emit) => {
          const updated = repos.images.recordInspection(image.id, found);
          if (!updated) return; // deleted meanwhile
          changed++;
          emit('image_updated', { image_id: updated.id, image: updated });
        });
      }
      return changed;
    },

    /** Registers an image streamed from anywhere (an HTTP upload); the stream is consumed exactly once. */
    upload: (fields: ImageUploadFields, original: string, source: Readable, options?: UploadOptions) =>
      register(fields, original, (filename) => store.ingest(source, filename, options), options?.beforeRegister, options?.signal),

    /** Registers a file already on the server's disk (CLI): copied into the store and hashed in one pass. */
    registerFile: async (fields: ImageUploadFields, path: string, options?: IngestOptions) => {
      if (!existsSync(path)) throw new AppError('NOT_FOUND', `There is no file ${path}.`);
      return register(fields, path, (filename) => store.ingestFile(path, filename, options), undefined, options?.signal);
    },

    /** How its newest generalised deployment reported the generalisation steps; null before any did. */
    generalizationOf: (id: number): ImageGeneralizationReport | null => repos.deployments.latestGeneralizationOfImage(get(id).id),

    /** An operator's change (description, the generalisation switch); devices configured from now on get it. */
    update(id: number, change: ImageUpdate): MasterImage {
      return ctx.write((emit) => {
        get(id);
        const description = change.description === undefined ? undefined : change.description?.trim() || null;
        const image = repos.images.update(id, { description, generalize: change.generalize })!;
        ctx.audit({ action: 'image.update', target: imageLabel(image), details: change });
        emit('image_updated', { image_id: image.id, image });
        return image;
      });
    },

    /** Makes this the one active image of its product, atomically replacing the previous one. */
    activate(id: number): MasterImage {
      return ctx.write((emit) => {
        const image = repos.images.activate(get(id));
        ctx.audit({ action: 'image.activate', target: imageLabel(image) });
        emit('image_activated', { image_id: image.id, image });
        return image;
      });
    },

    async delete(id: number): Promise<void> {
      // A background preparation of this image stops first, so it cannot publish files after they are removed.
      const running = preparing.get(id);
      if (running) {
        running.abort();
        await running.done;
      }
      const image = ctx.write((emit) => {
        const found = get(id);
        if (found.active) throw new AppError('CONFLICT', `${found.product_type} ${found.version} is the active image; activate another one before deleting it.`);
        repos.images.delete(id);
        ctx.audit({ action: 'image.delete', target: imageLabel(found) });
        emit('image_deleted', { image_id: id });
        announceSameContent(emit, found.sha256, id);
        return found;
      });
      await store.remove(image.filename);
    },
  };
}
export type ImageService = ReturnType<typeof createImageService>;
