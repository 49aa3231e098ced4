// Every device on the floor right now, kept current by live reports: those being imaged, those serving others, those
// that just finished (for a minute), and those that need a hand (until someone resolves them, however long).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { attentionReasonOf } from '../../../src/contracts/attention.js';
import type { Deployment } from '../../../src/contracts/domain.js';
import { FINAL_DEPLOYMENT_STATUSES, OPEN_DEPLOYMENT_STATUSES } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useDeploymentUpdates, useResync } from './live.hooks.js';

/** Finished devices stay on the board this long so the operator sees them complete before they move to history. */
export const FINISHED_VISIBLE_MS = 60_000;
/**
 * Reports are applied at most this often. With 200 devices at 1 Hz (test/e2e/fleet-200.test.ts), applying them on
 * every animation frame kept the page's main thread busy a third of the time; four times a second still moves every
 * bar within a quarter second of its report.
 */
const FLUSH_INTERVAL_MS = 250;
/** Completed devices looked through on a (re)load for those still serving others (the newest first). */
const SERVING_LOOKUP_LIMIT = 200;
/** Devices needing a hand loaded on a (re)load; more than this on one floor is a different problem. */
const ATTENTION_LOOKUP_LIMIT = 500;

/** Installed, but still powered and serving chunks to other devices: it stays on the board until it stops. */
export const isServing = (d: Deployment) => d.delivery_role === 'serving';

export type Tracked = { deployment: Deployment; finishedAt: number | null };

/**
 * Whether `a` is a later state of the record than `b`. Events and reloads can overtake each other; taking a device
 * off the lane leaves `updated_at` alone, so the resolution time breaks the tie.
 */
const isNewer = (a: Deployment, b: Deployment) =>
  a.updated_at > b.updated_at ||
  (a.updated_at === b.updated_at &&
    ((a.attention_resolved_at ?? '') > (b.attention_resolved_at ?? '') ||
      // A first boot's check-in, or its absence, leaves updated_at alone too.
      (a.booted_at !== null && b.booted_at === null) ||
      (a.not_booted_at !== null && b.not_booted_at === null)));

/** `now` is the page's clock (one tick a second): it decides when finished devices leave and when silence is a stall. */
export function useLiveFleet(now: number) {
  const [tracked, setTracked] = useState<Map<number, Tracked>>(new Map());
  const [error, setError] = useState<Error | null>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(async () => {
    try {
      const [completed, attention, ...pages] = await Promise.all([
        api.deployments.list({ status: 'completed', limit: SERVING_LOOKUP_LIMIT, page: 1 }),
        api.deployments.list({ attention: true, limit: ATTENTION_LOOKUP_LIMIT, page: 1 }),
        ...OPEN_DEPLOYMENT_STATUSES.map((status) => api.deployments.list({ status, limit: 200, page: 1 })),
      ]);
      const open = pages.flatMap((p) => p.items);
      const serving = completed.items.filter(isServing);
      setTracked((previous) => {
        const next = new Map<number, Tracked>();
        const reloadedAt = Date.now();
        // Keep recently finished cards; everything open, serving or needing a hand comes fresh from the server. A
        // card that was serving and no longer is, or one needing a hand (a failure, a card not booted or counterfeit)
        // resolved elsewhere, went by while the connection was down: it leaves the board.
        for (const [id, entry] of previous) {
          const neededHand = entry.deployment.status === 'failed' || attentionReasonOf(entry.deployment, reloadedAt) !== null;
          if (entry.finishedAt !== null && !isServing(entry.deployment) && !neededHand) next.set(id, entry);
        }
        // An event applied while the lists were on their way may be newer than what they say: it stays.
        const fresher = (deployment: Deployment) => {
          const known = previous.get(deployment.id);
          return known && isNewer(known.deployment, deployment) ? known.deployment : deployment;
        };
        for (const loaded of attention.items) {
          const deployment = fresher(loaded);
          next.set(deployment.id, { deployment, finishedAt: deployment.completed_at ? (previous.get(deployment.id)?.finishedAt ?? reloadedAt) : null });
        }
        for (const loaded of open) {
          const deployment = fresher(loaded);
          next.set(deployment.id, { deployment, finishedAt: deployment.completed_at ? (previous.get(deployment.id)?.finishedAt ?? reloadedAt) : null });
        }
        for (const loaded of serving) {
          const deployment = fresher(loaded);
          next.set(deployment.id, { deployment, finishedAt: previous.get(deployment.id)?.finishedAt ?? reloadedAt });
        }
        return next;
      });
      setError(null);
    } catch (caught) {
      setError(caught as Error);
    } finally {
      setLoaded(true);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);
  useResync(() => void load());

  // Two hundred devices each reporting every second would mean two hundred renders a second: reports are collected
  // (the newest of each device wins) and applied in one render on an animation frame, at most every
  // FLUSH_INTERVAL_MS: a device reporting once a second gains nothing from sixty renders a second.
  const pending = useRef(new Map<number, Deployment>());
  const frame = useRef<number | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastFlush = useRef(0);
  const flush = useCallback(() => {
    frame.current = null;
    lastFlush.current = performance.now();
    const reports = [...pending.current.values()];
    pending.current.clear();
    setTracked((previous) => {
      const next = new Map(previous);
      const flushedAt = Date.now();
      for (const deployment of reports) {
        const current = previous.get(deployment.id);
        // Never move a card backwards in time.
        if (current && isNewer(current.deployment, deployment)) continue;
        const isFinal = FINAL_DEPLOYMENT_STATUSES.includes(deployment.status);
        // A device that left the board long ago may still leave its swarm, or be marked resolved, later: that
        // brings no card back.
        if (!current && isFinal && (deployment.delivery_role === 'done' || deployment.attention_resolved_at !== null) && attentionReasonOf(deployment, flushedAt) === null) continue;
        // A card found not booted long after it left the board comes back to the lane; its check-in brings none.
        if (!current && isFinal && attentionReasonOf(deployment, flushedAt) === null && deployment.booted_at !== null) continue;
        // One that stops serving shows as finished for the usual while from then on.
        const stoppedServing = current !== undefined && isServing(current.deployment) && !isServing(deployment);
        next.set(deployment.id, { deployment, finishedAt: isFinal ? (stoppedServing ? flushedAt : (current?.finishedAt ?? flushedAt)) : null });
      }
      return next;
    });
  }, []);
  useEffect(() => () => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    if (timer.current !== null) clearTimeout(timer.current);
  }, []);
  useDeploymentUpdates((deployment) => {
    const queued = pending.current.get(deployment.id);
    if (!queued || !isNewer(queued, deployment)) pending.current.set(deployment.id, deployment);
    if (frame.current !== null || timer.current !== null) return;
    const wait = lastFlush.current + FLUSH_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      frame.current = requestAnimationFrame(flush);
      return;
    }
    timer.current = setTimeout(() => {
      timer.current = null;
      frame.current = requestAnimationFrame(flush);
    }, wait);
  });

  // Finished devices leave after their minute, unless they still need a hand (a failure nobody resolved).
  useEffect(() => {
    setTracked((previous) => {
      let changed = false;
      const next = new Map(previous);
      for (const [id, entry] of previous) {
        if (entry.finishedAt === null || isServing(entry.deployment) || now - entry.finishedAt <= FINISHED_VISIBLE_MS) continue;
        if (attentionReasonOf(entry.deployment, now) !== null) continue;
        next.delete(id);
        changed = true;
      }
      return changed ? next : previous;
    });
  }, [now]);

  const list = useMemo(
    () =>
      [...tracked.values()].sort((a, b) => {
        if ((a.finishedAt === null) !== (b.finishedAt === null)) return a.finishedAt === null ? -1 : 1;
        // ISO instants order as plain strings; localeCompare would cost a locale lookup per comparison.
        const x = a.deployment.started_at;
        const y = b.deployment.started_at;
        return (x < y ? -1 : x > y ? 1 : 0) || a.deployment.id - b.deployment.id;
      }),
    [tracked],
  );
  return { list, error, loaded, reload: load };
}
