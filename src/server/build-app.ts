// Builds the whole server — two Fastify listeners over one domain core and one SQLite database — without
// listening, so tests can start it on ephemeral ports and a temp data dir. src/server/main.ts runs it for real.
import { mkdirSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createCore, type Core } from '../core/index.js';
import { openDatabase, type Db } from '../db/database.js';
import { dataPaths } from '../db/data-dir.js';
import type { AccountsService } from '../core/accounts.service.js';
import { installAccessHooks } from './auth/access.hooks.js';
import type { ServerConfig } from './config.js';
import { registerConfigRoute } from './device/config.route.js';
import { installDeviceTokenHook } from './device/device-token.hook.js';
import { registerHealthRoute } from './device/health.route.js';
import { registerStatusRoute } from './device/status.route.js';
import { registerCheckinRoute } from './device/checkin.route.js';
import { registerPeerAnnounceRoute } from './device/peer-announce.route.js';
import { registerDeploymentLogRoute } from './device/deployment-log.route.js';
import { createEventBroadcaster } from './events/event-broadcaster.js';
import { createDeploymentOutcomeLogger } from './events/deployment-outcome.logger.js';
import { watchExternalChanges } from './events/external-changes.js';
import { createSocketServer, disconnectSockets, type EventServer } from './events/socket.server.js';
import type { TypedApp } from './http/app-types.js';
import { createDiskFullAlarm, installErrorHandling, type DiskFullAlarm } from './http/error-handler.js';
import { validatorCompiler } from './http/validation.js';
import { DebugRequestLogController } from './http/request-log.controller.js';
import { registerImageDownloadRoute } from './device/image-download.route.js';
import { deviceBaseUrl } from './device/device-url.js';
import { registerInstallerFilesRoute } from './device/installer-files.route.js';
import { registerAuditRoute } from './management/audit.route.js';
import { registerAuthRoutes } from './management/auth.route.js';
import { registerBatchRoutes } from './management/batches.route.js';
import { registerDeploymentRoutes } from './management/deployments.route.js';
import { registerImageUploadRoute } from './management/image-upload.route.js';
import { registerImageRoutes } from './management/images.route.js';
import { registerLabelRoutes } from './management/labels.route.js';
import { registerMetricsRoute } from './management/metrics.route.js';
import { registerOpenApi } from './management/openapi.js';
import { registerPoolRoutes } from './management/pool.route.js';
import { registerProfileRoutes } from './management/profiles.route.js';
import { registerStatsRoute } from './management/stats.route.js';
import { registerSystemRoute } from './management/system.route.js';
import { registerNetbootRoutes } from './management/netboot.route.js';
import { registerTokenRoutes } from './management/tokens.route.js';
import { registerUserRoutes } from './management/users.route.js';
import { registerVenueRoutes } from './management/venues.route.js';
import { registerWebhookRoutes } from './management/webhooks.route.js';
import { createWebhookDeliveryWorker, type WebhookDeliveryPolicy } from './webhooks/webhook-delivery.worker.js';
import { DEFAULT_WEB_DIR, registerWebUiRoutes } from './management/web-ui.route.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import type { NetbootSupervisor, ServerDeps } from './server-deps.js';
import { defaultAccess, type Access } from './auth/access.hooks.js';

/** How often the server looks for changes other programs made to the database (a cheap PRAGMA). */
const EXTERNAL_CHANGE_POLL_MS = 1000;

/** Access for routes whose modules do not declare it (they are registered as plugins). */
const ROUTE_POLICY: Record<string, { access: Access }> = {
  'POST /api/images/upload': { access: 'operator' },
};

export interface BuildOptions {
  /** The clock of the domain core and sessions (tests move it). */
  now?: () => Date;
  netboot?: NetbootSupervisor | null;
  /** Webhook retries and timeouts (tests shorten the back-off). */
  webhookDelivery?: Partial<WebhookDeliveryPolicy>;
}

export interface ListeningAddresses {
  management: string;
  device: string;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  access: Access;
}

export interface PitcrewServer {
  management: TypedApp;
  /** Every management route with who may call it: tests derive their access checks from this list. */
  managementRoutes: RegisteredRoute[];
  device: TypedApp;
  core: Core;
  db: Db;
  accounts: AccountsService;
  metrics: ServerMetrics;
  io: EventServer;
  deps: ServerDeps;
  /** Listens on the configured hosts and ports (0 picks a free port) and answers with both base URLs. */
  listen(): Promise<ListeningAddresses>;
  /** HTTP first (in-flight requests get the grace period), then live sockets, then SQLite. Safe to call twice. */
  close(): Promise<void>;
}

function createFastify(config: ServerConfig, listener: 'management' | 'device', diskFull: DiskFullAlarm, parentLog?: FastifyInstance['log']): TypedApp {
  const app = Fastify({
    ...(parentLog ? { loggerInstance: parentLog.child({ listener }) } : { logger: { level: config.logLevel, base: { listener } } }),
    // Keep-alive connections with no request in flight are closed at shutdown; busy ones get the grace period.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: 1024 * 1024,
    logController: new DebugRequestLogController(),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app, diskFull);
  return app;
}

function installRequestMetrics(app: TypedApp, metrics: ServerMetrics, listener: 'management' | 'device'): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(listener, request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode, reply.elapsedTime / 1000);
  });
}

export async function buildApp(config: ServerConfig, options: BuildOptions = {}): Promise<PitcrewServer> {
  const now = options.now ?? (() => new Date());
  const paths = dataPaths(config.dataDir);
  mkdirSync(paths.root, { recursive: true });
  const db = openDatabase(paths.database);
  const broadcaster = createEventBroadcaster();
  const metrics = createServerMetrics();
  broadcaster.observe(metrics.observeEvent);
  const core = createCore({ db, imagesDir: paths.images, events: broadcaster.sink, now, sessionHours: config.sessionHours });
  const accounts = core.accounts;
  const shutdown = new AbortController();

  // One full disk is one problem: both listeners share the alarm that logs it.
  const diskFull = createDiskFullAlarm();
  const management = createFastify(config, 'management', diskFull);
  const device = createFastify(config, 'device', diskFull, management.log);

  const io = createSocketServer(management.server, accounts, config.trustedOrigins, management.log);
  broadcaster.attach(io);
  broadcaster.observe(createDeploymentOutcomeLogger(device.log));
  // Notifications are queued as events arrive (after their commit) and sent by the worker, never in the request.
  broadcaster.observe((name, payload) => {
    try {
      core.webhooks.notify(name, payload);
    } catch (error) {
      management.log.error({ err: error, event: name }, 'could not queue webhook deliveries');
    }
  });
  const webhookWorker = createWebhookDeliveryWorker(core.webhooks, { now, log: management.log.child({ component: 'webhooks' }), policy: options.webhookDelivery });
  // A test queued with `pitcrew webhook test` is sent as soon as the server notices the CLI's change.
  broadcaster.observe((name) => {
    if (name === 'external_change') webhookWorker.kick();
  });
  const externalChanges = watchExternalChanges(db, core, broadcaster.sink, { intervalMs: EXTERNAL_CHANGE_POLL_MS, log: management.log });

  let downloads: { active(): number } | null = null;
  const deps: ServerDeps = {
    config,
    core,
    accounts,
    metrics,
    shutdownSignal: shutdown.signal,
    startedAt: new Date(),
    connectedClients: () => io.of('/').sockets.size,
    endLiveSockets: ({ sessionId, userId, tokenId }) =>
      void disconnectSockets(io, (data) =>
        (sessionId !== undefined && data.sessionId === sessionId) ||
        (userId !== undefined && data.principal?.user.id === userId) ||
        (tokenId !== undefined && data.principal?.tokenId === tokenId)),
    activeDownloads: () => downloads?.active() ?? 0,
    netboot: options.netboot ?? null,
    devicePort: () => {
      const address = device.server.address();
      return address !== null && typeof address === 'object' ? address.port : config.devicePort;
    },
  };

  // ── Device listener: the installer's API and image downloads, nothing else ──
  installRequestMetrics(device, metrics, 'device');
  installDeviceTokenHook(device, config.deviceToken);
  registerHealthRoute(device, deps.startedAt);
  registerConfigRoute(device, deps);
  registerStatusRoute(device, deps);
  registerCheckinRoute(device, deps);
  registerPeerAnnounceRoute(device, deps);
  registerDeploymentLogRoute(device, deps);
  downloads = registerImageDownloadRoute(device, {
    images: core.images,
    baseUrl: (request) => deviceBaseUrl(config, request),
    onBytesServed: metrics.countBytesServed,
    onChunkSent: (imageSha256, index, deploymentId) => core.peers.noteServerSend(imageSha256, index, deploymentId),
    checkDeployment: (deploymentId, token) => core.deployments.checkDownload(deploymentId, token, config.requireDeploymentToken),
    signal: shutdown.signal,
  });
  registerInstallerFilesRoute(device, { dataDir: config.dataDir });

  // ── Management listener: JSON API, live events, web UI ──
  const managementRoutes: RegisteredRoute[] = [];
  management.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const policy = ROUTE_POLICY[`${method} ${route.url}`];
      if (policy && !route.config?.access) route.config = { ...route.config, ...policy };
      managementRoutes.push({ method, url: route.url, access: route.config?.access ?? defaultAccess(method) });
    }
  });
  installRequestMetrics(management, metrics, 'management');
  await management.register(fastifyCookie);
  await management.register(fastifyRateLimit, { global: false });
  await registerOpenApi(management);
  installAccessHooks(management, accounts, config.trustedOrigins);
  registerHealthRoute(management, deps.startedAt);
  registerAuthRoutes(management, deps);
  registerStatsRoute(management, deps);
  registerVenueRoutes(management, deps);
  registerProfileRoutes(management, deps);
  registerPoolRoutes(management, deps);
  registerBatchRoutes(management, deps);
  registerImageRoutes(management, deps);
  registerImageUploadRoute(management, { images: core.images, maxBytes: config.maxImageBytes });
  registerDeploymentRoutes(management, deps);
  registerLabelRoutes(management, deps);
  registerUserRoutes(management, deps);
  registerTokenRoutes(management, deps);
  registerAuditRoute(management, deps);
  registerSystemRoute(management, deps);
  registerNetbootRoutes(management, deps);
  registerWebhookRoutes(management, deps);
  registerMetricsRoute(management, deps);
  registerWebUiRoutes(management, config.webDir ?? DEFAULT_WEB_DIR);

  await Promise.all([management.ready(), device.ready()]);

  let closing: Promise<void> | null = null;
  async function close(): Promise<void> {
    closing ??= (async () => {
      const grace = setTimeout(() => {
        shutdown.abort();
        management.server.closeAllConnections();
        device.server.closeAllConnections();
      }, config.shutdownGraceSeconds * 1000);
      try {
        const http = Promise.all([management.close(), device.close()]);
        // Upgraded WebSocket connections would hold the management server open: end them once HTTP stops accepting.
        io.disconnectSockets(true);
        io.engine.close();
        await http;
      } finally {
        clearTimeout(grace);
        shutdown.abort();
        externalChanges.stop();
        await webhookWorker.stop();
        await preparingDeliveries;
        db.close();
      }
    })();
    return closing;
  }

  // Images registered before delivery v2 get their chunks in the background (their devices take the raw path
  // meanwhile), and images registered before first-boot detection are inspected.
  let preparingDeliveries: Promise<unknown> = Promise.resolve();
  const prepareMissingDeliveries = () =>
    core.images.prepareMissingDeliveries((image, error) => {
      management.log.error({ err: error, image: image.filename }, `could not prepare ${image.product_type} ${image.version} for chunked delivery; devices get the raw image`);
    }, shutdown.signal);

  async function listen(): Promise<ListeningAddresses> {
    const managementUrl = await management.listen({ port: config.port, host: config.host });
    const deviceUrl = await device.listen({ port: config.devicePort, host: config.deviceHost });
    webhookWorker.start();
    preparingDeliveries = Promise.all([
      prepareMissingDeliveries().catch((error: unknown) => management.log.error({ err: error }, 'could not prepare images for chunked delivery')),
      core.images.inspectUninspected(shutdown.signal).catch((error: unknown) => management.log.error({ err: error }, 'could not inspect images registered before first-boot detection')),
    ]);
    return { management: managementUrl, device: deviceUrl };
  }

  return { management, managementRoutes, device, core, db, accounts, metrics, io, deps, listen, close };
}
