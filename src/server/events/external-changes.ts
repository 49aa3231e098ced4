// Changes made to the database by another program — the `pitcrew` CLI importing kart numbers or creating a batch
// while the server runs — never pass through this server's core, so no event announces them. This watcher notices
// them (SQLite's data_version moves only for other connections' commits) and tells dashboards to reload.
import type { FastifyBaseLogger } from 'fastify';
import type { EventSink } from '../../contracts/events.js';
import type { Core } from '../../core/index.js';
import { dataVersion, type Db } from '../../db/database.js';

export interface ExternalChangeWatcher {
  /** Looks once; returns whether another program changed the database since the last look. */
  check(): boolean;
  stop(): void;
}

export function watchExternalChanges(db: Db, core: Core, events: EventSink, { intervalMs, log }: { intervalMs: number; log: Pick<FastifyBaseLogger, 'debug' | 'error'> }): ExternalChangeWatcher {
  let seen = dataVersion(db);
  const check = () => {
    const version = dataVersion(db);
    if (version === seen) return false;
    seen = version;
    events.emit('external_change', { detected_at: new Date().toISOString() });
    events.emit('stats_update', core.stats());
    return true;
  };
  const timer = setInterval(() => {
    try {
      if (check()) log.debug('the database was changed by another program; dashboards reload');
    } catch (error) {
      log.error({ err: error }, 'checking the database for outside changes failed');
    }
  }, intervalMs);
  // The watcher alone must never keep the process alive.
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
