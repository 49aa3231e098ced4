// What every domain service is built from: repositories over one connection, an event sink and a clock.
import { silentEvents, type EventSink, type ServerEventName, type ServerEvents } from '../contracts/events.js';
import { inWriteTransaction, type Db } from '../db/database.js';
import { createBatchRepository } from '../db/batch.repository.js';
import { createDeploymentRepository } from '../db/deployment.repository.js';
import { createHostnameRepository } from '../db/hostname.repository.js';
import { createImageRepository } from '../db/image.repository.js';
import { createVenueRepository } from '../db/venue.repository.js';
import { createAuditRepository } from '../db/audit.repository.js';
import { createProfileRepository } from '../db/profile.repository.js';
import type { Stats } from '../contracts/domain.js';
import { ambientActor, auditDetails, type Actor, type AuditRecord } from './audit.js';

export function createRepositories(db: Db) {
  return {
    venues: createVenueRepository(db),
    hostnames: createHostnameRepository(db),
    batches: createBatchRepository(db),
    images: createImageRepository(db),
    deployments: createDeploymentRepository(db),
    audit: createAuditRepository(db),
    profiles: createProfileRepository(db),
  };
}
export type Repositories = ReturnType<typeof createRepositories>;

export type Emit = <K extends ServerEventName>(name: K, payload: ServerEvents[K]) => void;

export interface CoreContext {
  db: Db;
  repos: Repositories;
  events: EventSink;
  now: () => Date;
  /**
   * Runs `work` in one write transaction. Events it emits are held back until the commit, so nobody hears of a
   * change that was rolled back; `statsChanged` marks that dashboard numbers moved.
   */
  write<T>(work: (emit: Emit, markStatsChanged: () => void) => T): T;
  /** Who is making changes right now: the ambient actor (see audit.ts), else the core's default. */
  actor(): Actor;
  /**
   * Writes the audit entry of a management change. Only inside `write`, in the transaction of the change it
   * describes: the entry commits and rolls back with it.
   */
  audit(record: AuditRecord): void;
}

export function createContext(db: Db, events: EventSink, now: () => Date, computeStats: (ctx: CoreContext) => Stats, defaultActor: Actor): CoreContext {
  const repos = createRepositories(db);
  const ctx: CoreContext = {
    db,
    repos,
    events,
    now,
    actor: () => ambientActor() ?? defaultActor,
    audit(record) {
      if (!db.inTransaction) throw new Error(`audit entry ${record.action} written outside the transaction of its change`);
      repos.audit.insert({ at: isoOf(now()), actor: record.actor ?? ctx.actor(), action: record.action, target: record.target ?? null, details: auditDetails(record.details) });
    },
    write(work) {
      // Nobody listening (CLI, workers): skip building event payloads and the stats read altogether.
      if (events === silentEvents) return inWriteTransaction(db, () => work(() => undefined, () => undefined));
      const pending: Array<[ServerEventName, unknown]> = [];
      let statsChanged = false;
      const emit: Emit = (name, payload) => void pending.push([name, payload]);
      const result = inWriteTransaction(db, () => work(emit, () => (statsChanged = true)));
      for (const [name, payload] of pending) events.emit(name, payload as never);
      if (statsChanged) events.emit('stats_update', computeStats(ctx));
      return result;
    },
  };
  return ctx;
}

export const isoOf = (date: Date): string => date.toISOString();
