// Marks deployments failed when their device has gone quiet for longer than the stale timeout.
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
