// GET /api/netboot/usb-image: the installer stick image, built from the prepared network boot folder for the server
// URL asked for, and sent as a download. Built into a private folder of the data directory (it is the size of the
// folder, ~100 MB: too big for a RAM-backed /tmp), opened, and unlinked before it is sent, so nothing is left behind
// whether the download finishes, is cut, or the server stops.
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Static } from 'typebox';
import { Type } from 'typebox';
import { UsbImageQuery } from '../../contracts/api.js';
import { AppError } from '../../contracts/errors.js';
import { buildUsbStick, netbootPaths } from '../../netboot/netboot.service.js';
import { TftpPrepareError } from '../../netboot/tftp-tree.preparer.js';
import { UsbStickError } from '../../netboot/usb-stick.builder.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

const STICK_FILE_NAME = 'pitcrew-installer-usb.img';
const StickBody = Type.String({ description: 'the disk image, application/octet-stream' });

/** The builder's refusals, in the error catalogue's terms. */
function asAppError(error: unknown): unknown {
  if (error instanceof UsbStickError) return new AppError(error.reason === 'not-prepared' ? 'CONFLICT' : 'UNAVAILABLE', error.message);
  if (error instanceof TftpPrepareError) return new AppError('VALIDATION', error.message);
  return error;
}

/**
 * Stick images built or being downloaded at once: each holds some 100 MB of scratch space until its download ends
 * and a core while it is built. Two cover an operator with two tabs; a page reloaded in a loop gets a 503, not a full
 * disk.
 */
export const MAX_STICKS_AT_ONCE = 2;

export function registerNetbootRoutes(app: TypedApp, { config }: ServerDeps): void {
  const scratchRoot = join(netbootPaths(config.dataDir).root, 'usb-images');
  let sticksInProgress = 0;
  // A build cut short by a crash or a power cut leaves its ~100 MB folder: nothing else uses them, so start clean.
  app.addHook('onReady', async () => { await rm(scratchRoot, { recursive: true, force: true }); });
  // Operators only: the stick carries the device token when the network boot folder's cmdline.txt does.
  // No HEAD twin: it would build a whole image only to send its headers.
  app.get('/api/netboot/usb-image', { schema: { querystring: UsbImageQuery, response: { 200: StickBody } }, exposeHeadRoute: false, config: { access: 'operator' } }, async (request, reply) => {
    if (sticksInProgress >= MAX_STICKS_AT_ONCE) {
      reply.header('retry-after', '30');
      throw new AppError('UNAVAILABLE', `${MAX_STICKS_AT_ONCE} installer stick images are being built or downloaded already; try again when one of them has finished.`);
    }
    // Counted until the response ends, whichever way: the download holds the image's disk space until then.
    sticksInProgress++;
    reply.raw.once('close', () => sticksInProgress--);
    await mkdir(scratchRoot, { recursive: true });
    const scratch = await mkdtemp(join(scratchRoot, 'build-'));
    // A browser that goes away (the page left, the download cancelled) stops the build rather than leave it running.
    const gone = new AbortController();
    reply.raw.once('close', () => { if (!reply.raw.writableEnded) gone.abort(new AppError('UNAVAILABLE', 'the download was cancelled')); });
    let handle;
    try {
      const stick = await buildUsbStick({ dataDir: config.dataDir, output: join(scratch, STICK_FILE_NAME), serverUrl: request.query.server_url, signal: gone.signal }).catch((error: unknown) => {
        throw asAppError(error);
      });
      handle = await open(stick.output, 'r');
      request.log.info({ disk_id: stick.diskId, server_url: stick.serverUrl, bytes: stick.sizeBytes }, 'installer stick image built');
      reply
        .type('application/octet-stream')
        .header('content-length', String(stick.sizeBytes))
        .header('content-disposition', `attachment; filename="${STICK_FILE_NAME}"`)
        .header('cache-control', 'no-store')
        .header('x-pitcrew-disk-id', stick.diskId);
    } catch (error) {
      await handle?.close();
      throw error;
    } finally {
      // The open handle keeps the bytes readable until the stream closes it.
      await rm(scratch, { recursive: true, force: true });
    }
    // A stream skips the serializer; the cast only tells the typed reply so.
    return reply.send(createReadStream('', { fd: handle }) as unknown as Static<typeof StickBody>);
  });
}
