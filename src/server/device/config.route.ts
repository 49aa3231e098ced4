// POST /api/config: a device asks who it is and what to install.
import { ConfigRequest, ConfigResponse } from '../../contracts/device-api.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';
import { deviceBaseUrl } from './device-url.js';
import { deliveryUrls } from '../../contracts/image-delivery.js';

export function registerConfigRoute(app: TypedApp, { core, config }: ServerDeps): void {
  app.post('/api/config', { schema: { body: ConfigRequest, response: { 200: ConfigResponse } } }, async (request) => {
    const result = core.deployments.requestConfig(request.body, request.ip);
    const base = deviceBaseUrl(config, request);
    const imageUrl = `${base}/images/${encodeURIComponent(result.image.filename)}`;
    return {
      hostname: result.deployment.hostname,
      product_type: result.deployment.product_type,
      venue_code: result.deployment.venue_code,
      image_url: imageUrl,
      image_size: result.image.size_bytes,
      image_checksum: result.image.sha256,
      version: result.image.version,
      timestamp: result.deployment.started_at,
      deployment_id: result.deployment.id,
      batch_id: result.deployment.batch_id,
      status_url: `${base}/api/status`,
      image_manifest_url: result.image.delivery ? deliveryUrls(imageUrl).manifest : null,
      deployment_token: result.token,
      peer_announce_url: result.image.delivery && core.peers.enabledFor(result.deployment.batch_id) ? `${base}/api/peers/announce` : null,
      generalize: result.image.generalize,
      provisioning: result.provisioning,
      checkin_url: `${config.checkinUrl ?? base}/api/checkin`,
      checkin_token: result.checkinToken,
      checkin_retry_s: config.checkinRetrySeconds,
    };
  });
}
