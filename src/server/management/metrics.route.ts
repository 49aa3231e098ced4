// GET /metrics: Prometheus text format, for any logged-in user or API token (a scraper uses a viewer token).
import { DEPLOYMENT_STATUSES, HOSTNAME_STATUSES, PRODUCT_TYPES, BATCH_STATUSES } from '../../contracts/domain.js';
import type { TypedApp } from '../http/app-types.js';
import type { ServerDeps } from '../server-deps.js';

export function registerMetricsRoute(app: TypedApp, { core, metrics, connectedClients, activeDownloads }: ServerDeps): void {
  const { system } = core;

  app.get('/metrics', { config: { access: 'viewer' }, schema: { hide: true } }, async (_request, reply) => {
    // Every state is reported, zeros included, so a dashboard's series never vanish.
    const deployments = system.deploymentsByState();
    const pool = system.poolByState();
    const batches = system.batchesByState();
    const text = metrics.render([
      {
        name: 'pitcrew_deployments',
        help: 'Deployments by state and product.',
        samples: DEPLOYMENT_STATUSES.flatMap((state) => PRODUCT_TYPES.map((product) => ({
          labels: { state, product },
          value: deployments.find((row) => row.status === state && row.product_type === product)?.n ?? 0,
        }))),
      },
      {
        name: 'pitcrew_hostnames',
        help: 'Hostnames in the pools by state and product.',
        samples: HOSTNAME_STATUSES.flatMap((state) => PRODUCT_TYPES.map((product) => ({
          labels: { state, product },
          value: pool.find((row) => row.status === state && row.product_type === product)?.n ?? 0,
        }))),
      },
      {
        name: 'pitcrew_batches',
        help: 'Deployment batches by state.',
        samples: BATCH_STATUSES.map((state) => ({ labels: { state }, value: batches.find((row) => row.status === state)?.n ?? 0 })),
      },
      { name: 'pitcrew_image_downloads_active', help: 'Image downloads in flight.', samples: [{ value: activeDownloads() }] },
      { name: 'pitcrew_image_uploads_active', help: 'Image uploads in flight.', samples: [{ value: core.images.uploadsInProgress() }] },
      { name: 'pitcrew_dashboard_connections', help: 'Live dashboard connections.', samples: [{ value: connectedClients() }] },
    ]);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
}
