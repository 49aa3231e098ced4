// What is happening right now: the devices that need a hand first, then the day's numbers, the batch being served,
// every device being imaged (as cards, or one line each for a big floor, moving as they report) and what finished
// recently. Everything follows live events; nothing needs a reload.
import { useMemo, type ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { attentionReasonOf } from '../../../src/contracts/attention.js';
import { isFinalDeploymentStatus, OPEN_BATCH_STATUSES, type Batch, type Deployment, type DeploymentStatus } from '../../../src/contracts/domain.js';
import { compareQueueOrder } from '../../../src/contracts/batch-queue.js';
import { api } from '../api/api.client.js';
import { useResource } from '../api/use-resource.js';
import { useAuth } from '../auth/auth.context.js';
import { BootBadge } from '../components/boot-state.js';
import { BatchActivityBadge, BatchProgress, describeBatch, withProgress } from '../components/batch-progress.js';
import { AttentionLane, type AttentionItem } from '../components/attention-lane.js';
import { DeploymentCard } from '../components/deployment-card.js';
import { summarizeFleet } from '../components/fleet.js';
import { FleetProgress } from '../components/fleet-progress.js';
import { FleetTable, type FleetFilters } from '../components/fleet-table.js';
import { formatAgo, formatCount, formatDateTime, formatDuration, formatIsoDay } from '../../../src/contracts/format.js';
import { EmptyState, ErrorAlert, Loading, PageHeader, StatCard, StatusBadge } from '../components/ui.js';
import { useNow } from '../components/use-now.js';
import { useSearchState } from '../components/use-search-state.js';
import { useLiveEvent, useLiveReload, useResync } from '../live/live.hooks.js';
import { isServing, useLiveFleet } from '../live/use-live-fleet.js';

const VIEWS = ['cards', 'table'] as const;
type View = (typeof VIEWS)[number];
/** The operator's last choice of view, kept in this browser; the address bar (a count tile's link) overrides it. */
const VIEW_STORAGE_KEY = 'pitcrew.dashboard.view';
const FLEET_KEYS = ['view', 'state', 'venue', 'batch', 'search', 'sort', 'dir'] as const;

const storedView = (): View => {
  try {
    return localStorage.getItem(VIEW_STORAGE_KEY) === 'table' ? 'table' : 'cards';
  } catch {
    return 'cards';
  }
};

function StatsRow() {
  const stats = useResource((signal) => api.stats(signal), []);
  useLiveEvent('stats_update', (payload) => stats.setData(payload));
  useResync(stats.reload);
  const s = stats.data;
  // Each count opens the list behind it; "today" is the browser's day, as the server counts its own.
  const today = formatIsoDay(new Date());
  return (
    <>
      <ErrorAlert error={stats.error} onRetry={stats.reload} />
      <div className="row g-3 mb-4" data-testid="stats">
        <div className="col-6 col-lg-3"><StatCard label="Imaging now" value={formatCount(s?.active_deployments)} variant="primary" testId="stat-active" to="/?view=table&state=imaging" /></div>
        <div className="col-6 col-lg-3"><StatCard label="Completed today" value={formatCount(s?.completed_today)} variant="success" testId="stat-completed" to={`/deployments?status=completed&from=${today}`} /></div>
        <div className="col-6 col-lg-3"><StatCard label="Failed today" value={formatCount(s?.failed_today)} variant="danger" testId="stat-failed" to={`/deployments?status=failed&from=${today}`} /></div>
        <div className="col-6 col-lg-3"><StatCard label="Devices with a hostname" value={formatCount(s?.total_devices)} variant="secondary" testId="stat-devices" to="/kart-numbers?status=assigned" /></div>
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
    .filter((b) => b.id !== batch?.id && OPEN_BATCH_STATUSES.includes(b.status))
    .sort(compareQueueOrder)
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

/**
 * A counterfeit card before a stall: a stall mostly ends by itself (the device reports again, or the stale sweep
 * turns it into a failure, which leads the lane), while a board on a counterfeit card looks finished and may be boxed
 * and shipped next; this lane is the one chance to catch it.
 */
const LANE_ORDER: Record<AttentionItem['reason'], number> = { failed: 0, 'not-booted': 1, 'counterfeit-card': 2, stalled: 3 };

function RecentHistory() {
  // Often enough for a card's "awaiting boot" to turn "not booted" within seconds of its deadline.
  const now = useNow(5000);
  const recent = useResource((signal) => api.deployments.list({ page: 1, limit: 10 }, signal), []);
  useLiveReload(['deployment_status'], recent.reload, {
    delayMs: 800,
    when: (_name, payload) => {
      const status = (payload as { status?: DeploymentStatus }).status;
      return status !== undefined && (isFinalDeploymentStatus(status) || status === 'assigned');
    },
  });
  const items = recent.data?.items ?? [];
  // A listed device's next step shows at once (not "assigned" at 62 %); reports of devices not listed, and progress
  // within a step, cost nothing here.
  const shownStatus = useMemo(() => new Map((recent.data?.items ?? []).map((d) => [d.id, d.status])), [recent.data]);
  useLiveEvent('deployment_status', ({ deployment }) => {
    const shown = shownStatus.get(deployment.id);
    if (shown === undefined || shown === deployment.status) return;
    recent.setData((data) => (data ? { ...data, items: data.items.map((d) => (d.id === deployment.id ? deployment : d)) } : data));
  });
  // Written vs booted: a listed card's check-in, or its absence past the deadline, shows at once.
  const patchBoot = ({ deployment }: { deployment: Deployment }) =>
    recent.setData((data) => (data && data.items.some((d) => d.id === deployment.id) ? { ...data, items: data.items.map((d) => (d.id === deployment.id ? deployment : d)) } : data));
  useLiveEvent('deployment_booted', patchBoot);
  useLiveEvent('deployment_not_booted', patchBoot);
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
                <th scope="col" title="Whether the written card's system checked in from its first boot">Booted</th>
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
                  <td><BootBadge deployment={d} now={now} testId={`recent-boot-${d.id}`} /></td>
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

/**
 * Everything that follows the floor's reports, which re-renders once per animation frame while devices report. The
 * rest of the page comes in as elements made once by the page, so those frames never re-render it.
 */
function LiveFloor({ between, after }: { between: ReactNode; after: ReactNode }) {
  const now = useNow(1000);
  const live = useLiveFleet(now);
  const [params, update] = useSearchState(FLEET_KEYS);
  const view: View = (VIEWS as readonly string[]).includes(params.view) ? (params.view as View) : storedView();
  const chooseView = (next: View) => {
    try {
      localStorage.setItem(VIEW_STORAGE_KEY, next);
    } catch {
      // Private windows may refuse storage: the choice then lasts as long as the address.
    }
    update({ view: next });
  };

  const attention = useMemo(() => {
    const items: AttentionItem[] = [];
    for (const { deployment } of live.list) {
      const reason = attentionReasonOf(deployment, now);
      if (reason) items.push({ deployment, reason });
    }
    // Failures first, then cards written but not booted, then counterfeit cards, then the silent; the newest of each on top.
    return items.sort((a, b) => (a.reason === b.reason ? b.deployment.updated_at.localeCompare(a.deployment.updated_at) : LANE_ORDER[a.reason] - LANE_ORDER[b.reason]));
  }, [live.list, now]);
  // A failure waiting in the lane stays on the board too (after the unfinished): the compact view filters by state.
  const board = live.list;
  const deployments = useMemo(() => board.map((t) => t.deployment), [board]);
  const summary = useMemo(() => summarizeFleet(live.list.map((t) => t.deployment)), [live.list]);
  const openCount = board.filter((t) => t.finishedAt === null).length;
  const servingCount = board.filter((t) => isServing(t.deployment)).length;
  const filters: FleetFilters = params;

  return (
    <>
      <PageHeader title="Dashboard" subtitle="Live view of the deployment network" />
      {live.loaded && <AttentionLane items={attention} now={now} />}
      {/* The compact view is for a big floor, often on a screen across the room: the devices come straight after
          what needs a hand, the day's counts and the queue after them. */}
      {view !== 'table' && between}
      <section aria-labelledby="live-heading" data-testid="live-deployments" className="mb-4" data-view={view}>
        <div className="d-flex flex-wrap align-items-center justify-content-between gap-2 mb-2">
          <h2 className="h5 mb-0" id="live-heading">
            Devices being imaged <span className="badge text-bg-primary" data-testid="live-count">{openCount}</span>
          </h2>
          <div className="d-flex align-items-center gap-2">
            {servingCount > 0 && (
              <span className="badge text-bg-info" title="Installed devices still serving chunks to others before they reboot: leave them powered" data-testid="serving-count">
                {servingCount} serving others
              </span>
            )}
            <div className="btn-group btn-group-sm" role="group" aria-label="View">
              <button type="button" className={`btn btn-outline-secondary${view === 'cards' ? ' active' : ''}`} aria-pressed={view === 'cards'} onClick={() => chooseView('cards')} data-testid="view-cards">Cards</button>
              <button type="button" className={`btn btn-outline-secondary${view === 'table' ? ' active' : ''}`} aria-pressed={view === 'table'} onClick={() => chooseView('table')} data-testid="view-table">Compact</button>
            </div>
          </div>
        </div>
        <ErrorAlert error={live.error} onRetry={() => void live.reload()} />
        {!live.loaded ? (
          <Loading />
        ) : board.length === 0 ? (
          <div className="card border-0 shadow-sm">
            <EmptyState title="No device is being imaged right now" testId="live-empty">
              Start a batch, then power on blank Raspberry Pis on the deployment network. Each one shows up here with its progress and
              transfer rate as soon as it asks for its configuration.
            </EmptyState>
          </div>
        ) : (
          <>
            <FleetProgress summary={summary} />
            {view === 'table' ? (
              <FleetTable deployments={deployments} now={now} filters={filters} onFilters={update} />
            ) : (
              <div className="row g-3">
                {board.map(({ deployment }) => (
                  <div className="col-12 col-md-6 col-xl-4 col-xxl-3" key={deployment.id}>
                    <DeploymentCard deployment={deployment} now={now} />
                  </div>
                ))}
              </div>
            )}
          </>
        )}
      </section>
      {view === 'table' && between}
      {after}
    </>
  );
}

export function DashboardPage() {
  return (
    <LiveFloor
      between={
        <>
          <StatsRow />
          <div className="mb-4">
            <ActiveBatchWidget />
          </div>
        </>
      }
      after={<RecentHistory />}
    />
  );
}
