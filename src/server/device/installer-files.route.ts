// GET|HEAD /installer/{file} on the device listener: what a network-booted installer fetches after the kernel
// starts (Node for arm64 and the agent bundle), and /installer/SHA256SUMS that its /init checks them against.
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../contracts/errors.js';
import { CHECKSUMS_FILE, resolveInstallerFile, resolveInstallerFiles, type InstallerFileSources } from '../../netboot/installer-files.js';

export function registerInstallerFilesRoute(app: FastifyInstance, sources: InstallerFileSources): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/installer/:file',
    exposeHeadRoute: false,
    schema: { params: { type: 'object', properties: { file: { type: 'string', maxLength: 64 } }, required: ['file'] } },
    handler: async (request, reply) => {
      const { file } = request.params as { file: string };
      if (file === CHECKSUMS_FILE) {
        const set = await resolveInstallerFiles(sources);
        if (set.missing.length) {
          request.log.warn({ missing: set.missing.map((m) => m.name) }, 'installer files missing');
          throw new AppError('NOT_FOUND', `The network installer is not ready: ${set.missing.map((m) => `${m.name} (${m.hint})`).join('; ')}.`);
        }
        reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
        return request.method === 'HEAD' ? reply.header('content-length', Buffer.byteLength(set.checksums)).send() : set.checksums;
      }
      const found = await resolveInstallerFile(sources, file);
      if (!found) throw new AppError('NOT_FOUND', `There is no installer file ${JSON.stringify(file.slice(0, 64))}.`);
      reply
        .header('content-type', found.contentType)
        .header('content-length', found.size)
        .header('etag', `"${found.sha256}"`)
        .header('cache-control', 'no-cache');
      if (request.method === 'HEAD') return reply.send();
      request.log.info({ file: found.name, bytes: found.size }, 'installer file requested');
      return reply.send(createReadStream(found.path));
    },
  });
}
