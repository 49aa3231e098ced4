// GET|HEAD /images/{filename} on the device listener: master images for installers, resumable with Range; and
// beside each, its delivery v2 files: `{filename}.manifest` (JSON), `{filename}.chunks/{i}` (one zstd frame each)
// and `{filename}.bmap` (for bmaptool). Every one checks the installer's deployment token where it sends one.
import { close, fstat, open } from 'node:fs';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageService } from '../../core/image.service.js';
import type { MasterImage } from '../../contracts/domain.js';
import { AppError, type ErrorBody } from '../../contracts/errors.js';
import { decideRange, ifRangeAllows, weakEtagMatches } from './http-range.js';
import { sendFileRange, type Transfer } from './file-stream.sender.js';
import { deliveryUrls } from '../../contracts/image-delivery.js';
import { DEPLOYMENT_ID_HEADER, DEPLOYMENT_TOKEN_HEADER } from '../../contracts/device-api.js';

export interface ImageDownloadDeps {
  images: ImageService;
  /** The base URL devices reach this listener at (for the chunk URLs in manifests). */
  baseUrl: (request: FastifyRequest) => string;
  /** Bytes handed to clients, as they go (for metrics). */
  onBytesServed?: (bytes: number) => void;
  /**
   * A chunk of the image with this SHA-256 is being sent, to the deployment the request names if any (one-to-many
   * delivery: the swarm learns it is on its way).
   */
  onChunkSent?: (imageSha256: string, index: number, deploymentId: number | null) => void;
  /**
   * The owner's shutdown: aborting it (when the grace period is over) cuts every download in flight. New downloads
   * are refused (503) from the moment the listener starts closing.
   */
  signal: AbortSignal;
  /** A download that takes nothing for this long is cut (default 120 s). */
  idleTimeoutMs?: number;
  /**
   * Checks the deployment an installer names in its download headers (`DEPLOYMENT_ID_HEADER`,
   * `DEPLOYMENT_TOKEN_HEADER`; null where absent) and throws to refuse it.
   */
  checkDeployment?: (deploymentId: string | null, token: string | null) => void;
}

export interface ImageDownloads {
  /** Downloads in flight now. */
  active(): number;
}

/**
 * Registers the image download route. The route path is a wildcard rather than `:filename` because image file
 * names may be up to 200 characters and the router refuses longer `:param` values (maxParamLength, 100).
 */
export function registerImageDownloadRoute(app: FastifyInstance, deps: ImageDownloadDeps): ImageDownloads {
  const transfers = new Set<Transfer>();
  let refusing = false;
  deps.signal.addEventListener('abort', () => {
    refusing = true;
    // Clients resume later with Range.
    for (const transfer of transfers) transfer.cut('server shutting down');
  }, { once: true });
  app.addHook('preClose', async () => {
    refusing = true;
  });

  async function serve(request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) {
    if (refusing) {
      reply.code(503).header('connection', 'close').header('retry-after', '10');
      return errorBody('The server is shutting down; retry shortly.', 'UNAVAILABLE');
    }
    deps.checkDeployment?.(trimmedHeader(request, DEPLOYMENT_ID_HEADER), trimmedHeader(request, DEPLOYMENT_TOKEN_HEADER));
    const filename = request.params['*'];
    const delivery = deliveryTarget(filename);
    if (delivery && !deps.images.isImageFile(filename)) return serveDelivery(request, reply, delivery);
    const { image, path } = findImage(deps.images, filename);
    const fd = await openFile(path, request);
    let handedOver = false;
    try {
      const stat = await fstatAsync(fd);
      const size = stat.size;
      if (size !== image.size_bytes) {
        request.log.error({ filename, expected: image.size_bytes, actual: size }, 'image file size differs from its record');
        throw new AppError('NOT_FOUND', `The file of ${image.product_type} ${image.version} is damaged in the image store; upload it again.`);
      }
      const etag = `"${image.sha256}"`;
      const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'accept-ranges': 'bytes',
        etag,
        'last-modified': lastModified.toUTCString(),
        'content-disposition': `attachment; filename="${image.filename}"`,
        'repr-digest': `sha-256=:${Buffer.from(image.sha256, 'hex').toString('base64')}:`,
        'cache-control': 'no-cache',
      };

      if (notModified(request, etag, lastModified)) {
        reply.code(304).headers(headers);
        return reply.send();
      }

      const rangeHeader = request.headers.range;
      const decision = rangeHeader !== undefined && ifRangeAllows(singleHeader(request.headers['if-range']), etag, lastModified)
        ? decideRange(rangeHeader, size)
        : ({ kind: 'full' } as const);
      if (decision.kind === 'unsatisfiable') {
        reply.code(416).header('content-range', `bytes */${size}`).header('accept-ranges', 'bytes');
        return errorBody(`The range "${String(rangeHeader).slice(0, 100)}" is outside the ${size}-byte image.`, 'RANGE_NOT_SATISFIABLE');
      }
      const start = decision.kind === 'partial' ? decision.start : 0;
      const end = decision.kind === 'partial' ? decision.end : size - 1;
      headers['content-length'] = String(end - start + 1);
      if (decision.kind === 'partial') headers['content-range'] = `bytes ${start}-${end}/${size}`;
      const status = decision.kind === 'partial' ? 206 : 200;

      if (request.method === 'HEAD') {
        reply.code(status).headers(headers);
        return reply.send();
      }

      handedOver = true;
      const outcome = await send(reply, fd, start, end, status, headers);
      const range = decision.kind === 'partial' ? `${start}-${end}` : undefined;
      if (outcome.finished) request.log.info({ filename, bytes: outcome.bytes, range, status }, 'image download finished');
      else request.log.info({ filename, bytes: outcome.bytes, range, status, reason: outcome.reason }, 'image download cut');
    } finally {
      if (!handedOver) close(fd, () => {}); // once handed over, the sender closes it
    }
  }

  /** Streams bytes [start, end] of `fd` (which it takes over) as the response, counted among the transfers in flight. */
  async function send(reply: FastifyReply, fd: number, start: number, end: number, status: number, headers: Record<string, string>) {
    // From here the bytes bypass Fastify's serialisation: the response is written directly from reused buffers.
    reply.hijack();
    reply.raw.writeHead(status, headers);
    const transfer = sendFileRange(reply.raw, fd, start, end, { onBytes: deps.onBytesServed, idleTimeoutMs: deps.idleTimeoutMs ?? 120_000 });
    transfers.add(transfer);
    const outcome = await transfer.done;
    transfers.delete(transfer);
    return outcome;
  }

  async function serveDelivery(request: FastifyRequest, reply: FastifyReply, target: DeliveryTarget) {
    if (target.kind === 'manifest') {
      const chunkUrl = deliveryUrls(`${deps.baseUrl(request)}/images/${encodeURIComponent(target.filename)}`).chunks;
      reply.header('cache-control', 'no-cache');
      return deps.images.manifestOf(target.filename, chunkUrl);
    }
    const file = target.kind === 'chunk'
      ? { ...deps.images.chunkOf(target.filename, target.index), kind: 'chunk' as const }
      : { ...deps.images.bmapOf(target.filename), kind: 'bmap' as const };
    const fd = await openFile(file.path, request);
    let handedOver = false;
    try {
      const [start, length, headers] = file.kind === 'chunk'
        ? [file.chunk.file_offset, file.chunk.compressed_length, { 'content-type': 'application/zstd', etag: `"${file.chunk.sha256}"` }]
        : [0, (await fstatAsync(fd)).size, { 'content-type': 'application/xml', etag: `"${file.image.sha256}.bmap"` }];
      const allHeaders = { ...headers, 'content-length': String(length), 'cache-control': 'no-cache' };
      if (request.method === 'HEAD' || length === 0) {
        reply.code(200).headers(allHeaders);
        return reply.send();
      }
      handedOver = true;
      if (file.kind === 'chunk') {
        const named = trimmedHeader(request, DEPLOYMENT_ID_HEADER);
        deps.onChunkSent?.(file.image.sha256, target.kind === 'chunk' ? target.index : 0, named && /^\d{1,15}$/.test(named) ? Number(named) : null);
      }
      const outcome = await send(reply, fd, start, start + length - 1, 200, allHeaders);
      if (!outcome.finished) request.log.info({ path: request.url, bytes: outcome.bytes, reason: outcome.reason }, 'chunk download cut');
    } finally {
      if (!handedOver) close(fd, () => {});
    }
  }

  app.route({
    method: ['GET', 'HEAD'],
    url: '/images/*',
    exposeHeadRoute: false,
    schema: {
      params: { type: 'object', properties: { '*': { type: 'string', maxLength: 255 } }, required: ['*'] },
    },
    handler: serve,
  });

  return { active: () => transfers.size };
}

function findImage(images: ImageService, filename: string): { image: MasterImage; path: string } {
  // Only registered images are served: a temporary upload, a dotfile or any path outside the store is simply
  // not a registered name, whatever its encoding.
  if (filename === '' || filename.includes('/') || filename.includes('\\') || filename.startsWith('.')) {
    throw new AppError('NOT_FOUND', `There is no image file ${JSON.stringify(filename.slice(0, 100))}.`);
  }
  return images.fileFor(filename);
}

// Raw descriptors rather than FileHandles: the sender reads and closes the descriptor itself, and a FileHandle
// would try to close it again when collected.
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);

/** Opens a file of a registered image (its raw file or a delivery file) for a sender to stream. */
async function openFile(path: string, request: FastifyRequest): Promise<number> {
  try {
    return await openAsync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    request.log.error({ path }, 'a registered image file is missing from the store');
    throw new AppError('NOT_FOUND', 'A file of this image is missing from the image store; upload the image again.');
  }
}

type DeliveryTarget = { kind: 'manifest' | 'bmap'; filename: string } | { kind: 'chunk'; filename: string; index: number };

/** Which delivery file a path under /images/ names, if any: `{filename}.manifest`, `.bmap` or `.chunks/{index}`. */
function deliveryTarget(path: string): DeliveryTarget | null {
  const chunk = /^([^/]+)\.chunks\/(\d{1,9})$/.exec(path);
  if (chunk) return { kind: 'chunk', filename: chunk[1]!, index: Number(chunk[2]) };
  const file = /^([^/]+)\.(manifest|bmap)$/.exec(path);
  return file ? { kind: file[2] as 'manifest' | 'bmap', filename: file[1]! } : null;
}

/** A request header's value, trimmed; null where absent or empty. */
function trimmedHeader(request: FastifyRequest, name: string): string | null {
  const value = singleHeader(request.headers[name])?.trim();
  return value ? value : null;
}

const singleHeader = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

function notModified(request: FastifyRequest, etag: string, lastModified: Date): boolean {
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return weakEtagMatches(ifNoneMatch, etag);
  const since = request.headers['if-modified-since'];
  if (since === undefined) return false;
  const date = Date.parse(since);
  return Number.isFinite(date) && lastModified.getTime() <= date;
}

function errorBody(error: string, code: ErrorBody['code']): ErrorBody {
  return { success: false, error, code };
}
