// GET /api/system/status: versions, disk, connections, downloads, network boot — what an operator checks first.
import { statfs } from 'node:fs/promises';
import { SystemStatus } from '../../contracts/api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';
import { PITCREW_VERSION } from '../../version.js';
import { describeUsbStickSource } from '../../netboot/netboot.service.js';

export function registerSystemRoute(app: TypedApp, deps: ServerDeps): void {
  const { core, config } = deps;
  const sqliteVersion = core.system.sqliteVersion();

  app.get('/api/system/status', { schema: { response: { 200: SystemStatus } }, config: { access: 'viewer' } }, async () => {
    const [disk, stick] = await Promise.all([statfs(core.imageStore.root), describeUsbStickSource(config.dataDir)]);
    return {
      status: 'ok' as const,
      version: PITCREW_VERSION,
      node_version: process.version,
      sqlite_version: sqliteVersion,
      uptime_s: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      started_at: deps.startedAt.toISOString(),
      data_dir: config.dataDir,
      disk: {
        total_bytes: disk.blocks * disk.bsize,
        free_bytes: disk.bavail * disk.bsize,
        images_bytes: core.images.list().reduce((sum, image) => sum + image.size_bytes, 0),
      },
      max_image_bytes: config.maxImageBytes,
      connected_clients: deps.connectedClients(),
      active_downloads: deps.activeDownloads(),
      device_url: config.deviceUrl,
      device_port: deps.devicePort(),
      usb_stick: { available: stick.available, server_url: stick.serverUrl },
      netboot: deps.netboot?.status() ?? null,
    };
  });
}
