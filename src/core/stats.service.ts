import type { Stats } from '../contracts/domain.js';
import type { CoreContext } from './context.js';

/** Midnight of the day `now` falls in, in the server's local time zone: "today" as the venue floor means it. */
export function startOfLocalDay(now: Date): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

export function computeStats(ctx: Pick<CoreContext, 'repos' | 'now'>): Stats {
  const { deployments, hostnames } = ctx.repos;
  const today = deployments.finishedSince(startOfLocalDay(ctx.now()).toISOString());
  return {
    active_deployments: deployments.activeCount(),
    completed_today: today.completed,
    failed_today: today.failed,
    total_devices: hostnames.assignedCount(),
  };
}
