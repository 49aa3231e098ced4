// The domain core, assembled: every service over one SQLite connection, one image store and one event sink.
import type { EventSink } from '../contracts/events.js';
import { silentEvents } from '../contracts/events.js';
import type { Db } from '../db/database.js';
import { createContext } from './context.js';
import { createAccountsService, DEFAULT_SESSION_HOURS } from './accounts.service.js';
import { SYSTEM_ACTOR, type Actor } from './audit.js';
import { createBatchService } from './batch.service.js';
import { createCheckinService } from './checkin.service.js';
import { createDeploymentService } from './deployment.service.js';
import { createImageService } from './image.service.js';
import { createImageStore } from './image-store.js';
import { createLabelService } from './label.service.js';
import { createPeerSwarmService } from './peer-swarm.service.js';
import { createPoolService } from './pool.service.js';
import { createProfileService } from './profile.service.js';
import { computeStats } from './stats.service.js';
import { createVenueService } from './venue.service.js';
import { createSystemRepository } from '../db/system.repository.js';
import { createWebhookService } from './webhook.service.js';

export interface CoreOptions {
  db: Db;
  imagesDir: string;
  events?: EventSink;
  now?: () => Date;
  /** Who made the changes no request names: the CLI's OS user, else `system`. */
  actor?: Actor;
  /** How long a browser session lasts. */
  sessionHours?: number;
}

export function createCore({ db, imagesDir, events = silentEvents, now = () => new Date(), actor = SYSTEM_ACTOR, sessionHours = DEFAULT_SESSION_HOURS }: CoreOptions) {
  const ctx = createContext(db, events, now, computeStats, actor);
  const imageStore = createImageStore(imagesDir);
  const deployments = createDeploymentService(ctx);
  return {
    ctx,
    imageStore,
    accounts: createAccountsService(ctx, { sessionHours }),
    venues: createVenueService(ctx),
    pool: createPoolService(ctx),
    batches: createBatchService(ctx),
    images: createImageService(ctx, imageStore),
    deployments,
    profiles: createProfileService(ctx),
    checkins: createCheckinService(ctx),
    peers: createPeerSwarmService(ctx, deployments),
    labels: createLabelService(ctx),
    webhooks: createWebhookService(ctx),
    stats: () => computeStats(ctx),
    /** Figures about the whole database, read only: the system page and /metrics. */
    system: createSystemRepository(db),
  };
}
export type Core = ReturnType<typeof createCore>;
