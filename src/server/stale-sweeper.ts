// Marks deployments failed when their device has gone quiet for longer than the stale timeout, and written cards
// "not booted" when they miss their first-boot check-in deadline (core.checkins.sweepNotBooted emits
// `deployment_not_booted` once per deployment).
import type { FastifyBaseLogger } from 'fastify';
import type { Core } from '../core/index.js';

export interface StaleSweeper {
  /** One pass now; returns how many deployments it failed. */
  sweep(): number;
  stop(): void;
}

export function startStaleSweeper(core: Core, { staleMinutes, intervalSeconds, log }: { staleMinutes: number; intervalSeconds: number; log: FastifyBaseLogger }): StaleSweeper {
  const sweep = () => {
    const failed = core.deployments.sweepStale(staleMinutes * 60_000);
    if (failed.length) log.warn({ deployments: failed.map((d) => d.id) }, `marked ${failed.length} silent deployment(s) failed`);
    // Each one logged by the outcome logger from its deployment_not_booted event.
    core.checkins.sweepNotBooted();
    core.peers.expireSilent();
    return failed.length;
  };
  const timer = setInterval(() => {
    try {
      sweep();
    } catch (error) {
      log.error({ err: error }, 'stale deployment sweep failed');
    }
  }, intervalSeconds * 1000);
  // The sweeper alone must never keep the process alive.
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
