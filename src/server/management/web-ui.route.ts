// The built web UI (dist/web), served by Pitcrew itself: the deployment network has no internet and no CDN.
// Unknown non-API paths get index.html so the single-page app's own router can answer deep links.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../contracts/errors.js';
import type { TypedApp } from '../http/app-types.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where `npm run build` puts the UI, seen from src/server/management or dist/server/management alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/**
 * Precompressed twins written by the build (web-assets.precompressor.ts), best first. Sent as they are to a
 * browser that accepts them: compressing at build time costs nothing per request.
 */
const PRECOMPRESSED = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' },
] as const;

/** Whether an Accept-Encoding header takes `encoding` (named, or `*`, and not with q=0). */
export function acceptsEncoding(header: string | undefined, encoding: string): boolean {
  if (!header) return false;
  let accepted = false;
  for (const part of header.toLowerCase().split(',')) {
    const [token, ...params] = part.trim().split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    const refused = q !== undefined && Number(q.slice(2)) === 0;
    if (token === encoding) return !refused;
    if (token === '*') accepted = !refused;
  }
  return accepted;
}

/** Paths the UI fallback never answers: they belong to the API, live events or metrics. */
const NOT_UI = /^\/(api|socket\.io|metrics|health)(\/|$)/;

async function fileIn(root: string, urlPath: string): Promise<{ path: string; size: number; mtime: Date } | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.split('/').some((part) => part.startsWith('.'))) return null;
  const path = resolve(root, `.${decoded}`);
  if (!path.startsWith(root + sep)) return null;
  return statFile(path);
}

async function statFile(path: string): Promise<{ path: string; size: number; mtime: Date } | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? { path, size: info.size, mtime: info.mtime } : null;
  } catch {
    return null;
  }
}

export function registerWebUiRoutes(app: TypedApp, webDir: string): void {
  const root = resolve(webDir);

  async function send(reply: FastifyReply, original: { path: string; size: number; mtime: Date }, isIndex: boolean, ifNoneMatch: string | undefined, acceptEncoding: string | undefined) {
    let file = original;
    let encoding: string | null = null;
    for (const variant of PRECOMPRESSED) {
      if (!acceptsEncoding(acceptEncoding, variant.encoding)) continue;
      const twin = await statFile(original.path + variant.suffix);
      // A twin older than its file is a leftover of an earlier build: never send stale content.
      if (twin && twin.mtime >= original.mtime) {
        file = twin;
        encoding = variant.encoding;
        break;
      }
    }
    // Each encoding is its own representation, so its own ETag; caches keep them apart by Accept-Encoding.
    const etag = `W/"${file.size.toString(16)}-${file.mtime.getTime().toString(16)}${encoding ? `-${encoding}` : ''}"`;
    reply.header('vary', 'accept-encoding');
    if (encoding) reply.header('content-encoding', encoding);
    // Vite names built assets by content hash, so they never change; index.html must always be revalidated.
    reply.header('cache-control', isIndex || !original.path.includes(`${sep}assets${sep}`) ? 'no-cache' : 'public, max-age=31536000, immutable');
    reply.header('etag', etag);
    reply.header('x-content-type-options', 'nosniff');
    if (isIndex) reply.header('x-frame-options', 'DENY');
    if (ifNoneMatch === etag) return reply.code(304).send();
    reply.type(CONTENT_TYPES[extname(original.path).toLowerCase()] ?? 'application/octet-stream').header('content-length', file.size);
    return reply.send(createReadStream(file.path));
  }

  app.get('/*', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (NOT_UI.test(path)) throw new AppError('NOT_FOUND', `There is no ${request.method} ${path} here.`);
    const ifNoneMatch = request.headers['if-none-match'];
    const acceptEncoding = request.headers['accept-encoding'];
    const asset = path === '/' ? null : await fileIn(root, path);
    if (asset) return send(reply, asset, asset.path.endsWith(`${sep}index.html`), ifNoneMatch, acceptEncoding);
    // A missing file that looks like an asset is a 404; anything else is a page of the app.
    if (extname(path) && extname(path) !== '.html') throw new AppError('NOT_FOUND', `There is no file ${path.slice(0, 200)}.`);
    const index = await fileIn(root, '/index.html');
    if (!index) throw new AppError('NOT_FOUND', 'The web UI is not built: run `npm run build` in the Pitcrew folder.');
    return send(reply, index, true, ifNoneMatch, acceptEncoding);
  });
}
