// What is happening right now: the day's numbers, the batch being served, every device being imaged (moving as
// they report), and what finished recently. Everything follows live events; nothing needs a reload.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import type { Batch, Deployment } from '../../../src/contracts/domain.js';
import { FINAL_DEPLOYMENT_STATUSES } from '../../../src/contracts/domain.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { useAuth } from '../auth/auth.context.js';
import { BatchActivityBadge, BatchProgress, describeBatch, withProgress } from '../components/batch-progress.js';
import { DeploymentCard } from '../components/deployment-card.js';
import { formatAgo, formatCount, formatDateTime, formatDuration } from '../components/format.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, StatCard, StatusBadge } from '../components/ui.js';
import { useNow } from '../components/use-now.js';
import { useLiveEvent, useLiveReload, useResync } from '../live/live.hooks.js';

const OPEN_STATUSES = ['assigned', 'downloading', 'verifying', 'customizing'] as const;
/** Finished cards stay on the board this long so the operator sees them complete before they move to history. */
const FINISHED_VISIBLE_MS = 60_000;
/** Completed devices looked through on a (re)load for those still serving others (the newest first). */
const SERVING_LOOKUP_LIMIT = 200;

/** Installed, but still powered and serving chunks to other devices: it stays on the board until it stops. */
const isServing = (d: Deployment) => d.delivery_role === 'serving';

type Tracked = { deployment: Deployment; finishedAt: number | null };

function useLiveDeployments() {
  const [tracked, setTracked] = useState<Map<number, Tracked>>(new Map());
  const [error, setError] = useState<Error | null>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(async () => {
    try {
      const [completed, ...pages] = await Promise.all([
        api.deployments.list({ status: 'completed', limit: SERVING_LOOKUP_LIMIT, page: 1 }),
        ...OPEN_STATUSES.map((status) => api.deployments.list({ status, limit: 200, page: 1 })),
      ]);
      const open = pages.flatMap((p) => p.items);
      const serving = completed.items.filter(isServing);
      setTracked((previous) => {
        const next = new Map<number, Tracked>();
        // Keep recently finished cards; everything open or serving comes fresh from the server. A card that was
        // serving and no longer is went by while the connection was down: it leaves the board.
        for (const [id, entry] of previous) if (entry.finishedAt !== null && !isServing(entry.deployment)) next.set(id, entry);
        for (const deployment of open) next.set(deployment.id, { deployment, finishedAt: null });
        for (const deployment of serving) next.set(deployment.id, { deployment, finishedAt: previous.get(deployment.id)?.finishedAt ?? Date.now() });
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

  // A hundred devices each reporting every second would mean a hundred renders a second: reports are collected
  // and applied once per animation frame instead.
  const pending = useRef(new Map<number, Deployment>());
  const frame = useRef<number | null>(null);
  const flush = useCallback(() => {
    frame.current = null;
    const reports = [...pending.current.values()];
    pending.current.clear();
    setTracked((previous) => {
      const next = new Map(previous);
      for (const deployment of reports) {
        const current = previous.get(deployment.id);
        // Events can overtake each other; never move a card backwards in time.
        if (current && current.deployment.updated_at > deployment.updated_at) continue;
        const isFinal = FINAL_DEPLOYMENT_STATUSES.includes(deployment.status);
        // A device that left the board long ago may still leave its swarm later: that brings no card back.
        if (!current && isFinal && deployment.delivery_role === 'done') continue;
        // One that stops serving shows as finished for the usual while from then on.
        const stoppedServing = current !== undefined && isServing(current.deployment) && !isServing(deployment);
        next.set(deployment.id, { deployment, finishedAt: isFinal ? (stoppedServing ? Date.now() : (current?.finishedAt ?? Date.now())) : null });
      }
      return next;
    });
  }, []);
  useEffect(() => () => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
  }, []);
  useLiveEvent('deployment_status', ({ deployment }) => {
    const queued = pending.current.get(deployment.id);
    if (!queued || queued.updated_at <= deployment.updated_at) pending.current.set(deployment.id, deployment);
    frame.current ??= requestAnimationFrame(flush);
  });

  const now = useNow(1000);
  useEffect(() => {
    setTracked((previous) => {
      let changed = false;
      const next = new Map(previous);
      for (const [id, entry] of previous) {
        if (entry.finishedAt !== null && !isServing(entry.deployment) && now - entry.finishedAt > FINISHED_VISIBLE_MS) {
          next.delete(id);
          changed = true;
        }
      }
      return changed ? next : previous;
    });
  }, [now]);

  const list = useMemo(
    () =>
      [...tracked.values()].sort((a, b) => {
        if ((a.finishedAt === null) !== (b.finishedAt === null)) return a.finishedAt === null ? -1 : 1;
        return a.deployment.started_at.localeCompare(b.deployment.started_at) || a.deployment.id - b.deployment.id;
      }),
    [tracked],
  );
  return { list, error, loaded, now, reload: load };
}

function StatsRow() {
  const stats = useResource((signal) => api.stats(signal), []);
  useLiveEvent('stats_update', (payload) => stats.setData(payload));
  useResync(stats.reload);
  const s = stats.data;
  return (
    <>
      <ErrorAlert error={stats.error} onRetry={stats.reload} />
      <div className="row g-3 mb-4" data-testid="stats">
        <div className="col-6 col-lg-3"><StatCard label="Imaging now" value={formatCount(s?.active_deployments)} variant="primary" testId="stat-active" /></div>
        <div className="col-6 col-lg-3"><StatCard label="Completed today" value={formatCount(s?.completed_today)} variant="success" testId="stat-completed" /></div>
        <div className="col-6 col-lg-3"><StatCard label="Failed today" value={formatCount(s?.failed_today)} variant="danger" testId="stat-failed" /></div>
        <div className="col-6 col-lg-3"><StatCard label="Devices with a hostname" value={formatCount(s?.total_devices)} variant="secondary" testId="stat-devices" /></div>
      </div>
    </>
  );
}

function ActiveBatchWidget() {
  const { can } = useAuth();
  const serving = useResource((signal) => api.batches.active(signal), []);
  const queue = useResource((signal) => api.batches.list({}, signal), []);
  const reloadBoth = () => {
    serving.reload();
    queue.reload();
  };
  useLiveReload(['batch_created', 'batch_started', 'batch_paused', 'batch_completed', 'batch_cancelled', 'batch_updated'], reloadBoth);
  useLiveEvent('batch_progress', (event) => {
    const patch = (b: Batch): Batch => withProgress(b, event);
    serving.setData((data) => (data?.batch ? { batch: patch(data.batch) } : data));
    queue.setData((data) => (data ? { batches: data.batches.map(patch) } : data));
    // The serving batch handed out its last name, or a batch finished: another may serve now.
    if (event.status !== 'active' || (event.remaining_count === 0 && serving.data?.batch?.id === event.batch_id)) reloadBoth();
  });

  const batch = serving.data?.batch ?? null;
  // What comes after the served batch, in the server's serving order (priority, then oldest).
  const upNext = (queue.data?.batches ?? [])
    .filter((b) => b.id !== batch?.id && (b.status === 'active' || b.status === 'pending' || b.status === 'paused'))
    .sort((a, b) => b.priority - a.priority || a.created_at.localeCompare(b.created_at) || a.id - b.id)
    .slice(0, 3);

  return (
    <div className="card shadow-sm border-0 h-100" data-testid="active-batch-widget">
      <div className="card-header bg-transparent d-flex justify-content-between align-items-center">
        <h2 className="h6 mb-0">Batch queue</h2>
        <Link to="/batches" className="small">All batches</Link>
      </div>
      <div className="card-body row g-3">
        <div className="col-12 col-lg-7">
        <ErrorAlert error={serving.error} onRetry={serving.reload} />
        {serving.loading ? (
          <Loading />
        ) : batch ? (
          <div data-testid="active-batch" data-batch-id={batch.id}>
            <div className="d-flex justify-content-between align-items-start mb-2 gap-2">
              <div>
                <Link to={`/batches/${batch.id}`} className="fw-semibold fs-5 text-decoration-none">{describeBatch(batch)}</Link>
                <div className="small text-body-secondary">
                  {batch.product_type} at <Link to={`/venues/${batch.venue_code}`}>{batch.venue_code}</Link> · priority {batch.priority} · started {formatAgo(batch.started_at)}
                </div>
              </div>
              <StatusBadge kind="batch" status={batch.status} />
            </div>
            <BatchProgress batch={batch} />
          </div>
        ) : (
          <div className="text-center py-2" data-testid="active-batch-empty">
            <div className="fw-semibold">No batch is serving new devices</div>
            <div className="small text-body-secondary">
              Devices are served from the highest-priority active batch. {can.canWrite ? 'Start one from the queue, or create a batch.' : 'An operator starts batches.'}
            </div>
            {can.canWrite && <Link to="/batches/new" className="btn btn-primary btn-sm mt-2">Create a batch</Link>}
          </div>
        )}
        </div>
        <div className="col-12 col-lg-5 border-start-lg" data-testid="up-next">
          <div className="small text-body-secondary text-uppercase fw-semibold mb-1">Up next</div>
          {upNext.length === 0 ? (
            <div className="small text-body-secondary">Nothing else is queued.</div>
          ) : (
            <ol className="list-unstyled mb-0 small d-grid gap-1">
              {upNext.map((b) => (
                <li key={b.id} className="d-flex justify-content-between gap-2">
                  <Link to={`/batches/${b.id}`} className="text-truncate">{describeBatch(b)}</Link>
                  <span className="text-nowrap"><span className="text-body-secondary">{b.total_count - b.remaining_count}/{b.total_count}</span> {b.status === 'active' ? <BatchActivityBadge batch={b} servingId={batch?.id ?? null} /> : <StatusBadge kind="batch" status={b.status} />}</span>
                </li>
              ))}
            </ol>
          )}
        </div>
      </div>
    </div>
  );
}

function RecentHistory() {
  const recent = useResource((signal) => api.deployments.list({ page: 1, limit: 10 }, signal), []);
  useLiveReload(['deployment_status'], recent.reload, {
    delayMs: 800,
    when: (_name, payload) => {
      const status = (payload as { status?: string }).status;
      return status === 'completed' || status === 'failed' || status === 'superseded' || status === 'assigned';
    },
  });
  const items = recent.data?.items ?? [];
  return (
    <div className="card shadow-sm border-0" data-testid="recent-history">
      <div className="card-header bg-transparent d-flex justify-content-between align-items-center">
        <h2 className="h6 mb-0">Recent deployments</h2>
        <Link to="/deployments" className="small">Full history</Link>
      </div>
      <ErrorAlert error={recent.error} onRetry={recent.reload} />
      {recent.loading ? (
        <Loading />
      ) : items.length === 0 ? (
        <EmptyState title="No deployments yet">Devices appear here as soon as they ask the server for their configuration.</EmptyState>
      ) : (
        <div className="table-responsive">
          <table className="table table-sm table-hover align-middle mb-0">
            <thead>
              <tr>
                <th scope="col">Hostname</th>
                <th scope="col" className="d-none d-sm-table-cell">Product</th>
                <th scope="col" className="d-none d-sm-table-cell">Venue</th>
                <th scope="col">Status</th>
                <th scope="col" className="d-none d-md-table-cell">Duration</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id} data-testid={`recent-row-${d.id}`}>
                  <td className="font-monospace text-nowrap">{d.hostname}</td>
                  <td className="d-none d-sm-table-cell">{d.product_type}</td>
                  <td className="d-none d-sm-table-cell">{d.venue_code}</td>
                  <td><StatusBadge kind="deployment" status={d.status} /></td>
                  <td className="d-none d-md-table-cell">{d.completed_at ? formatDuration((new Date(d.completed_at).getTime() - new Date(d.started_at).getTime()) / 1000) : '—'}</td>
                  <td className="text-nowrap" title={formatDateTime(d.started_at)}>{formatAgo(d.started_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function DashboardPage() {
  const live = useLiveDeployments();
  const openCount = live.list.filter((t) => t.finishedAt === null).length;
  const servingCount = live.list.filter((t) => isServing(t.deployment)).length;
  return (
    <>
      <PageHeader title="Dashboard" subtitle="Live view of the deployment network" />
      <StatsRow />
      <div className="mb-4">
        <ActiveBatchWidget />
      </div>
      <section aria-labelledby="live-heading" data-testid="live-deployments" className="mb-4">
        <div className="d-flex flex-wrap align-items-center justify-content-between gap-2 mb-2">
          <h2 className="h5 mb-0" id="live-heading">
            Devices being imaged <span className="badge text-bg-primary" data-testid="live-count">{openCount}</span>
          </h2>
          {servingCount > 0 && (
            <span className="badge text-bg-info" title="Installed devices still serving chunks to others before they reboot: leave them powered" data-testid="serving-count">
              {servingCount} serving others
            </span>
          )}
        </div>
        <ErrorAlert error={live.error} onRetry={() => void live.reload()} />
        {!live.loaded ? (
          <Loading />
        ) : live.list.length === 0 ? (
          <div className="card border-0 shadow-sm">
            <EmptyState title="No device is being imaged right now" testId="live-empty">
              Start a batch, then power on blank Raspberry Pis on the deployment network. Each one shows up here with its progress and
              transfer rate as soon as it asks for its configuration.
            </EmptyState>
          </div>
        ) : (
          <div className="row g-3">
            {live.list.map(({ deployment }) => (
              <div className="col-12 col-md-6 col-xl-4 col-xxl-3" key={deployment.id}>
                <DeploymentCard deployment={deployment} now={live.now} />
              </div>
            ))}
          </div>
        )}
      </section>
      <RecentHistory />
    </>
  );
}
