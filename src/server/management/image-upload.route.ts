// POST /api/images/upload: a master image as multipart/form-data (the seed's fields: `product_type`, `version`,
// `description?`, then the file in `image`), streamed to the image store while hashed — never held in memory. The
// file is a raw disk or one compressed with xz, gzip or zstd (recognised by its first bytes), decompressed as it
// streams; a broken archive is a 422, and the size limit applies to the decompressed disk.
import multipart from '@fastify/multipart';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ImageResponse, type ImageUploadFields } from '../../contracts/api.js';
import type { MasterImage } from '../../contracts/domain.js';
import { AppError, isAppError } from '../../contracts/errors.js';
import type { ImageService } from '../../core/image.service.js';
import { formatBytes } from '../../contracts/format.js';
import { FIELD_LIMITS } from '../../contracts/limits.js';

export interface ImageUploadDeps {
  images: ImageService;
  /** Largest accepted image, in bytes (413 beyond). */
  maxBytes: number;
}

/** Room for the form's boundaries, headers and text fields around the file itself. */
const FORM_OVERHEAD_BYTES = 1 << 20;
/** After refusing an upload mid-body, how much of the rest we swallow so the client reads our answer (not a reset). */
const DISCARD_LIMIT_BYTES = 64 << 20;
const DISCARD_LIMIT_MS = 10_000;
const TEXT_FIELDS = new Set(['product_type', 'version', 'description']);

type Part = MultipartFile | MultipartValue<unknown>;

export function registerImageUploadRoute(app: FastifyInstance, deps: ImageUploadDeps): void {
  // Multipart parsing is scoped to this route: no other route accepts form uploads by accident.
  void app.register(async (scope) => {
    if (!scope.hasRequestDecorator('parts')) await scope.register(multipart);
    scope.post('/api/images/upload', {
      schema: {
        summary: 'Upload a master image',
        description: 'multipart/form-data: fields product_type, version, description (optional) first, then the file in "image": a raw disk image (.img) or one compressed as .img.xz, .img.gz or .img.zst (recognised by its content, decompressed as it arrives; the size limit applies to the decompressed disk).',
        consumes: ['multipart/form-data'],
        response: { 200: ImageResponse },
      },
    }, (request, reply) => upload(request, reply, deps));
  });
}

async function upload(request: FastifyRequest, reply: FastifyReply, deps: ImageUploadDeps) {
  if (!request.isMultipart()) {
    throw new AppError('VALIDATION', 'Send the image as multipart/form-data: product_type, version, description (optional), then the file in "image".');
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > deps.maxBytes + FORM_OVERHEAD_BYTES) {
    discardRestOfBody(request);
    throw tooLarge(deps.maxBytes);
  }
  if (Number.isFinite(declared)) {
    // Refuse at once what cannot fit, rather than after filling the disk (a size the client does not declare is
    // still caught when the disk reports it full).
    const free = await deps.images.freeBytes();
    if (declared > free) {
      discardRestOfBody(request);
      throw new AppError('INSUFFICIENT_STORAGE', `The image store has ${formatBytes(free)} free, too little for this ${formatBytes(declared)} upload; free some space or delete old images.`);
    }
  }

  const parts = request.parts({
    limits: { fileSize: Infinity, files: 1, fields: 10, fieldSize: 16 << 10, parts: 12, headerPairs: 20 },
  })[Symbol.asyncIterator]() as AsyncIterator<Part>;
  const text: Record<string, string> = {};
  let image: MasterImage | undefined;
  try {
    for (let next = await parts.next(); !next.done; next = await parts.next()) {
      const part = next.value;
      if (part.type === 'field') {
        acceptField(part, text);
        continue;
      }
      if (part.fieldname !== 'image') throw new AppError('VALIDATION', `Unexpected file field "${part.fieldname.slice(0, 50)}"; send the image in "image".`);
      if (!part.filename) throw new AppError('VALIDATION', 'No file selected: the "image" field carries no file name.');
      // Everything about the image is checked here, before its first byte is stored.
      const fields = parseFields(text);
      deps.images.checkNew(fields);
      const abort = new AbortController();
      const onGone = () => !request.raw.complete && abort.abort(new AppError('VALIDATION', 'The upload was interrupted before the file was complete.'));
      request.raw.once('close', onGone);
      try {
        image = await deps.images.upload(fields, part.filename, part.file, {
          maxBytes: deps.maxBytes,
          signal: abort.signal,
          // The form must end with the file: a part after it (a field sent late, a second file) is refused
          // before the image is registered.
          beforeRegister: async (stored) => {
            const after = await parts.next();
            if (!after.done) throw lateCause(after.value);
            if (stored.size_bytes === 0) throw new AppError('VALIDATION', `The file ${part.filename.slice(0, 100)} is empty.`);
          },
        });
      } finally {
        request.raw.off('close', onGone);
      }
      break;
    }
  } catch (error) {
    discardRestOfBody(request);
    throw describeUploadError(error, deps.maxBytes);
  }
  if (!image) throw new AppError('VALIDATION', 'No image file provided: send the file in the "image" field, after product_type and version.');
  request.log.info({ image_id: image.id, filename: image.filename, size_bytes: image.size_bytes }, 'image uploaded');
  if (image.same_content_as.length > 0) {
    request.log.warn({ image_id: image.id, sha256: image.sha256 }, `${image.product_type} ${image.version} has the same content as ${image.same_content_as.map((o) => `${o.product_type} ${o.version}`).join(', ')}`);
  }
  return { success: true as const, image, checksum: image.sha256, filename: image.filename };
}

function acceptField(part: MultipartValue<unknown>, text: Record<string, string>): void {
  const name = part.fieldname;
  if (!TEXT_FIELDS.has(name)) throw new AppError('VALIDATION', `Unknown field "${name.slice(0, 50)}"; the form takes product_type, version, description and image.`);
  if (name in text) throw new AppError('VALIDATION', `The field "${name}" was sent twice.`);
  if (part.valueTruncated) throw new AppError('VALIDATION', `The field "${name}" is too long.`);
  text[name] = String(part.value);
}

function parseFields(text: Record<string, string>): ImageUploadFields {
  const missing = ['product_type', 'version'].filter((name) => !text[name]?.trim());
  if (missing.length > 0) {
    throw new AppError('VALIDATION', `Missing ${missing.join(' and ')}: send ${missing.length > 1 ? 'them' : 'it'} before the image file.`);
  }
  const description = text.description;
  if (description !== undefined && description.length > FIELD_LIMITS.imageDescription.max) throw new AppError('VALIDATION', `The description is longer than ${FIELD_LIMITS.imageDescription.max} characters.`);
  // Product type and version are checked by the image service (closed set, version syntax, uniqueness).
  return {
    product_type: text.product_type!.trim().toUpperCase() as ImageUploadFields['product_type'],
    version: text.version!.trim(),
    ...(description !== undefined ? { description } : {}),
  };
}

function lateCause(part: Part): AppError {
  return part.type === 'file'
    ? new AppError('VALIDATION', 'Send one image per upload.')
    : new AppError('VALIDATION', `The field "${part.fieldname.slice(0, 50)}" came after the image file; send all fields before the file.`);
}

const tooLarge = (maxBytes: number) => new AppError('PAYLOAD_TOO_LARGE', `The image is larger than the ${formatBytes(maxBytes)} upload limit.`);

/** Turns what the parser or the store threw into an answer for a person; AppErrors pass through. */
function describeUploadError(error: unknown, maxBytes: number): unknown {
  if (isAppError(error)) return error;
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'FST_FILES_LIMIT':
      return new AppError('VALIDATION', 'Send one image per upload.');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new AppError('VALIDATION', 'The form has too many fields; it takes product_type, version, description and image.');
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge(maxBytes);
    case 'FST_PROTO_VIOLATION':
      return new AppError('VALIDATION', 'A field name is not allowed.');
    case 'FST_MP_PREMATURE_CLOSE':
    case 'ABORT_ERR':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new AppError('VALIDATION', 'The upload was interrupted before the file was complete.');
  }
  if (error instanceof Error && /multipart|boundary|Part terminated|Unexpected end/i.test(error.message)) {
    return new AppError('VALIDATION', `The upload is not a well-formed multipart form (${error.message}).`);
  }
  return error;
}

/**
 * After an upload is refused part-way, the client may still be sending gigabytes. Closing at once would reset the
 * connection and the client might never read the answer; reading forever would waste the link. Swallow a bounded
 * amount (clients such as curl stop sending once they see the answer), then drop the connection.
 */
function discardRestOfBody(request: FastifyRequest): void {
  const raw = request.raw;
  if (raw.complete || raw.destroyed) return;
  raw.unpipe();
  let swallowed = 0;
  const timer = setTimeout(() => raw.socket?.destroy(), DISCARD_LIMIT_MS);
  timer.unref();
  raw.on('data', (chunk: Buffer) => {
    swallowed += chunk.length;
    if (swallowed > DISCARD_LIMIT_BYTES) raw.socket?.destroy();
  });
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}
