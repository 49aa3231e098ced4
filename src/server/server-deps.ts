// What every route module receives: the domain core and the server's own services, passed explicitly.
import type { Core } from '../core/index.js';
import type { AccountsService } from '../core/accounts.service.js';
import type { ServerConfig } from './config.js';
import type { ServerMetrics } from './metrics.js';

/** What a supervised dnsmasq (network boot) reports, when the server runs one. */
export interface NetbootSupervisor {
  status(): { state: string; pid: number | null; restarts: number; recent: string[] };
}

export interface ServerDeps {
  config: ServerConfig;
  core: Core;
  accounts: AccountsService;
  metrics: ServerMetrics;
  /** Image downloads in flight (reported by the image download route once it is registered). */
  activeDownloads: () => number;
  /** Aborted when shutdown's grace period is over: long transfers should stop then. */
  shutdownSignal: AbortSignal;
  startedAt: Date;
  connectedClients: () => number;
  /** Cuts live-event sockets whose credentials were just withdrawn. */
  endLiveSockets: (withdrawn: { sessionId?: string; userId?: number; tokenId?: number }) => void;
  netboot: NetbootSupervisor | null;
  /** The port the device listener really listens on (the configured one may be 0: any free port). */
  devicePort: () => number;
}
